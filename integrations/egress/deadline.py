"""The overall deadline of one outbound call: per-read timeouts alone let a receiver that drips
one byte at a time hold a worker for hours, so a call's sockets are shut down when its deadline
passes, by one watchdog thread per process."""

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time

# The sockets opened by the current `send` call, so that its overall deadline can cut them.
open_sockets = threading.local()


class Deadline:
    """Shuts down a call's sockets after `seconds`: per-read timeouts alone let a receiver that
    drips one byte at a time hold a worker for hours."""

    def __init__(self, seconds: float | None) -> None:
        self.sockets: list[socket.socket] = []
        self.expired = False
        self.finished = False
        self._seconds = seconds

    def expire(self) -> None:
        if self.finished:
            return
        self.expired = True
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> "Deadline":
        open_sockets.current = self.sockets
        if self._seconds:
            _watchdog.watch(time.monotonic() + self._seconds, self)
        return self

    def __exit__(self, *exc_info) -> None:
        open_sockets.current = None
        self.finished = True
        # The watchdog keeps this object until its time comes; it must not keep the sockets
        # (and their file descriptors) open that long.
        self.sockets.clear()


class _Watchdog:
    """One thread per process that expires the calls' deadlines when they are due.

    A `threading.Timer` per call started a thread for every call to an IdP: about 0.4 ms of CPU,
    a third of the call's own. Finished calls are not removed; they are dropped when they reach
    the front of the queue.
    """

    def __init__(self) -> None:
        self._start_afresh()

    def _start_afresh(self) -> None:
        self._due: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, when: float, deadline: Deadline) -> None:
        with self._condition:
            heapq.heappush(self._due, (when, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():  # first call, or after fork
                self._thread = threading.Thread(
                    target=self._run, name="egress-deadlines", daemon=True
                )
                self._thread.start()
            elif self._due[0][2] is deadline:
                self._condition.notify()  # due before whatever the thread waits for

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    while self._due and self._due[0][2].finished:
                        heapq.heappop(self._due)
                    now = time.monotonic()
                    if self._due and self._due[0][0] <= now:
                        deadline = heapq.heappop(self._due)[2]
                        break
                    self._condition.wait(self._due[0][0] - now if self._due else None)
            deadline.expire()


_watchdog = _Watchdog()
# A forked child (an RQ work horse, a gunicorn worker of a preloaded app) has no watchdog
# thread, and may have copied the lock while the parent's thread held it.
os.register_at_fork(after_in_child=_watchdog._start_afresh)
