"""HTTP servers on 127.0.0.1 for the tests that need a real socket: their start and stop, and
the handler settings each of them wants. (The fault tests' misbehaving servers are
tests/faults/servers.py.)"""

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """No log line per request, and no Nagle wait: an answer's headers and body leave in two
    writes, and on a kept-alive connection the body waited for the client's delayed
    acknowledgement of the headers, 40 ms an answer."""

    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 (BaseHTTPRequestHandler's name)
        pass


@contextlib.contextmanager
def serving(server: ThreadingHTTPServer, *, scheme: str = "http") -> Iterator[str]:
    """Serve `server` from a thread; yields its base URL (`http://127.0.0.1:<port>`), then stops
    it and closes its socket."""
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
