"""gunicorn's gthread worker, closing each connection on the thread that served it.

Since gunicorn 26, closing a connection is a lingering close (RFC 9112, section 9.6): half-close,
then read until the client closes too, up to 2 seconds. The gthread worker does that in its main
loop, the one thread that accepts connections and hands them to the request threads. Until the
client closes its side, the whole process accepts nothing and finishes nothing: one client that
reads its answer and keeps the socket open stalls every request of that process for 2 seconds.
With keep-alive off (config/gunicorn.conf.py) every response closes its connection, so every
request made the main loop wait for its client; in the peer bench, for a driver on a busy machine.

Here the request thread does the lingering close itself, right after the response, and the main
loop's own close then finds the socket closed and returns at once. A slow client holds one
request thread for at most those 2 seconds, as a slow upload already can.
"""

from gunicorn.workers.gthread import ThreadWorker


class ClosingThreadWorker(ThreadWorker):
    def handle(self, conn):
        keep_open = super().handle(conn)
        # False: the connection is done with (no keep-alive, an error, the client gone). Anything
        # else (True for keep-alive, the marker for a connection put back to wait for its first
        # bytes) goes back to the main loop as gunicorn meant.
        if keep_open is False:
            conn.close(graceful=True)
        return keep_open
