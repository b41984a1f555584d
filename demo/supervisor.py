"""Run several long-lived processes as one: start them, prefix their output, stop them together.

Each service runs in its own session (process group), so stopping it also stops what it spawned
(runserver's autoreloader child, a worker's threads' subprocesses). The supervisor alone
receives Ctrl-C from the terminal and stops the groups itself: SIGTERM, then SIGKILL after a
bounded wait. If one service fails to start or dies later, the others are stopped and the
failure names it.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


class ServiceFailedError(Exception):
    """A service could not be prepared or started, or exited while the others were running."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass
class Service:
    name: str
    argv: list[str]
    # Ready once this loopback port accepts connections; without a port, once it has stayed up
    # for the supervisor's `settle_seconds`.
    port: int | None = None
    # Commands run to completion, in order, before the service starts (migrate, seed…).
    before: list[list[str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    process: subprocess.Popen | None = field(default=None, init=False, repr=False)


def port_is_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Supervisor:
    def __init__(
        self,
        services: list[Service],
        *,
        out: TextIO | None = None,
        startup_timeout: float = 60.0,
        settle_seconds: float = 1.5,
        stop_timeout: float = 10.0,
        before_timeout: float = 300.0,
    ) -> None:
        self.services = services
        self.out = out or sys.stdout
        self.startup_timeout = startup_timeout
        self.settle_seconds = settle_seconds
        self.stop_timeout = stop_timeout
        self.before_timeout = before_timeout
        self.stop_requested = threading.Event()
        self._write_lock = threading.Lock()
        self._readers: list[threading.Thread] = []
        self._width = max((len(service.name) for service in services), default=0)

    # ------------------------------------------------------------------ output
    def say(self, text: str, *, name: str = "") -> None:
        prefix = f"{name:<{self._width}} | " if name else ""
        with self._write_lock:
            for line in text.splitlines() or [""]:
                self.out.write(prefix + line + "\n")
            self.out.flush()

    def _pump(self, service: Service, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.say(raw.decode("utf-8", errors="replace").rstrip("\r\n"), name=service.name)
        stream.close()

    # ------------------------------------------------------------------ start
    def _environment(self, service: Service) -> dict[str, str]:
        # Unbuffered, so that Python children's lines appear as they are written.
        return {**os.environ, "PYTHONUNBUFFERED": "1", **service.env}

    def _prepare(self, service: Service) -> None:
        for command in service.before:
            try:
                result = subprocess.run(  # noqa: S603 - commands built by the caller, no shell
                    command,
                    cwd=service.cwd,
                    env=self._environment(service),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    timeout=self.before_timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as error:
                raise ServiceFailedError(
                    service.name, f"`{' '.join(command)}` took longer than {self.before_timeout}s"
                ) from error
            output = result.stdout.decode("utf-8", errors="replace").rstrip()
            if output:
                self.say(output, name=service.name)
            if result.returncode != 0:
                raise ServiceFailedError(
                    service.name,
                    f"`{' '.join(command)}` failed with exit code {result.returncode}",
                )

    def _spawn(self, service: Service) -> None:
        if service.port is not None and port_is_open(service.port):
            raise ServiceFailedError(
                service.name,
                f"port {service.port} is already in use (another `make run` still running?)",
            )
        service.process = subprocess.Popen(  # noqa: S603 - commands built by the caller
            service.argv,
            cwd=service.cwd,
            env=self._environment(service),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        reader = threading.Thread(
            target=self._pump, args=(service, service.process.stdout), daemon=True
        )
        reader.start()
        self._readers.append(reader)

    def _wait_until_ready(self) -> None:
        started = time.monotonic()
        waiting = list(self.services)
        while waiting and not self.stop_requested.is_set():
            for service in list(waiting):
                code = service.process.poll()
                if code is not None:
                    raise ServiceFailedError(
                        service.name, f"exited with code {code} during start-up"
                    )
                if service.port is not None:
                    if port_is_open(service.port):
                        waiting.remove(service)
                elif time.monotonic() - started >= self.settle_seconds:
                    waiting.remove(service)
            if time.monotonic() - started > self.startup_timeout:
                names = ", ".join(service.name for service in waiting)
                raise ServiceFailedError(
                    waiting[0].name, f"not ready after {self.startup_timeout:.0f}s ({names})"
                )
            self.stop_requested.wait(0.1)

    def start(self) -> None:
        """Prepare and start every service, then wait until all are ready.

        Raises ServiceFailedError; the caller stops what was started (see `run`)."""
        for service in self.services:
            if self.stop_requested.is_set():
                return
            self._prepare(service)
            self._spawn(service)
        self._wait_until_ready()

    # ------------------------------------------------------------------ run and stop
    def wait(self) -> ServiceFailedError | None:
        """Block until a stop is requested (None) or a service exits (its failure)."""
        while not self.stop_requested.wait(0.2):
            for service in self.services:
                code = service.process.poll() if service.process else None
                if code is not None:
                    return ServiceFailedError(service.name, f"exited with code {code}")
        return None

    def stop(self) -> None:
        """SIGTERM every group, SIGKILL what is left after `stop_timeout` seconds in total."""
        started = [service for service in self.services if service.process is not None]
        for service in started:
            _signal_group(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for service in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                service.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        # Also the groups whose leader is gone but a child lingers (runserver's reloader child).
        while time.monotonic() < deadline and any(_group_alive(s.process.pid) for s in started):
            time.sleep(0.1)
        for service in started:
            _signal_group(service.process.pid, signal.SIGKILL)
            try:
                service.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.say(f"{service.name} (pid {service.process.pid}) did not die")
        for reader in self._readers:
            reader.join(timeout=1)

    def request_stop(self, *_args) -> None:
        self.stop_requested.set()

    def run(self, *, on_ready: Callable[[], None] | None = None) -> int:
        """Start, wait for Ctrl-C / SIGTERM or a failure, stop everything. Returns the exit code."""
        previous = {
            signum: signal.signal(signum, self.request_stop)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        failure: ServiceFailedError | None = None
        try:
            try:
                self.start()
            except ServiceFailedError as error:
                failure = error
            else:
                if not self.stop_requested.is_set():
                    if on_ready is not None:
                        on_ready()
                    failure = self.wait()
        finally:
            if failure is not None:
                self.say(f"!! {failure} — stopping the other services.")
            else:
                self.say("Stopping…")
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if failure is not None:
            self.say(f"!! {failure.name} failed; everything is stopped.")
            return 1
        self.say("Everything is stopped.")
        return 0


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
