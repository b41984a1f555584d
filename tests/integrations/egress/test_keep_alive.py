"""IdP calls keep their connection open for the next call of the same thread: one login's token
and profile calls, and the next logins', share one TCP connection; never a cookie, and never a
connection idle long enough for the server to be closing it."""

import http.server
import threading
import time

import pytest

from integrations.egress.policy import Purpose
from integrations.egress.transport import KEEP_ALIVE_IDLE_SECONDS, kept_alive_session, send
from tests.local_server import QuietHandler, serving


class _IdP(http.server.ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.cookies_received: list[str] = []


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def setup(self):
        super().setup()
        self.server.connections += 1

    def do_GET(self):
        if cookie := self.headers.get("Cookie"):
            self.server.cookies_received.append(cookie)
        body = b'{"sub": "42"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Set-Cookie", "idp_session=account-a-secret; Path=/")
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def idp(settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    server = _IdP()
    with serving(server):
        yield server


def _get(idp, path="/userinfo"):
    url = f"http://127.0.0.1:{idp.server_address[1]}{path}"
    return send(
        "GET",
        url,
        purpose=Purpose.IDP,
        timeout=(2, 2),
        total_timeout=4,
        session=kept_alive_session(Purpose.IDP),
    )


def test_calls_of_one_thread_share_one_connection(idp):
    for _ in range(3):
        assert _get(idp).status_code == 200
    assert idp.connections == 1


def test_a_cookie_an_idp_sets_is_never_sent_back(idp):
    _get(idp, "/token")
    _get(idp, "/userinfo")  # the same host: in a shared session, another account's call
    assert idp.cookies_received == []


def test_a_connection_idle_too_long_is_not_reused(idp):
    _get(idp)
    time.sleep(KEEP_ALIVE_IDLE_SECONDS + 0.2)
    _get(idp)
    assert idp.connections == 2


def test_each_thread_has_its_own_connections(idp):
    _get(idp)
    other = threading.Thread(target=_get, args=(idp,))
    other.start()
    other.join()
    assert idp.connections == 2
