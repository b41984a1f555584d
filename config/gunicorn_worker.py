"""gunicorn's gthread worker, lingering over each closed connection on the thread that served it.

Since gunicorn 26, closing a connection is a lingering close (RFC 9112, section 9.6): half-close,
then read until the client closes too, up to 2 seconds. The gthread worker does that in its main
loop, the one thread that accepts connections and hands them to the request threads. Until the
client closes its side, the whole process accepts nothing and finishes nothing: one client that
reads its answer and keeps the socket open stalls every request of that process for 2 seconds.
With keep-alive off (config/gunicorn.conf.py) every response closes its connection, so every
request made the main loop wait for its client.

Here the request thread lingers, right after the response, through a duplicate of the socket
(gunicorn's own `close_graceful`, closing only the duplicate), then shuts the socket's read side.
The main loop's close that follows finds nothing more to read and closes at once; the socket and
the process's count of open connections stay gunicorn's. A slow client holds one request thread
for at most those 2 seconds, as a slow upload already can.
"""

import contextlib
import socket

from gunicorn.util import close_graceful
from gunicorn.workers.gthread import ThreadWorker


class ClosingThreadWorker(ThreadWorker):
    def handle(self, conn):
        keep_open = super().handle(conn)
        # False: the connection is done with (no keep-alive, an error, the client gone). Anything
        # else (True for keep-alive, the marker for a connection put back to wait for its first
        # bytes) goes back to the main loop as gunicorn meant.
        if keep_open is False:
            linger(conn.sock)
        return keep_open


def linger(sock: socket.socket) -> None:
    """Half-close `sock` and read until the client closes too (gunicorn's bounds), then shut its
    read side, leaving it open: closing it, here, would make the main loop's own close fail and
    count the connection as closed twice."""
    try:
        duplicate = sock.dup()
    except OSError:
        return  # already closed: the main loop's close has nothing to wait for
    close_graceful(duplicate)
    with contextlib.suppress(OSError):  # the client reset the connection meanwhile
        sock.shutdown(socket.SHUT_RD)
