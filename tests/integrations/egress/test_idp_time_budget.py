"""TE-09: an IdP that trickles its answer must not hold a worker beyond the call's budget.

Per-read timeouts alone do not bound a call: a server that sends one byte just inside each
read timeout keeps the connection alive for as long as it likes. Every call to an IdP (token,
profile, JWKS) therefore has an overall budget of connect + read timeout.
"""

import socket
import threading
import time
from http.server import ThreadingHTTPServer

import pytest

from integrations.oauth.client import ClientConfig, OAuthError, exchange_code, fetch_profile
from integrations.oauth.tokens import KeySource, TokenError, jwks_get
from tests.local_server import QuietHandler, serving

BUDGET = 1.5  # connect 0.5 s + read 1.0 s


@pytest.fixture
def trickling_idp(settings):
    """Answers its headers, then one byte every 0.2 s for ever: each read is quick, the whole
    answer never ends."""
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100000\r\n\r\n{"
            )
            try:
                while not stop.is_set():
                    conn.sendall(b" ")
                    time.sleep(0.2)
            except OSError:
                pass
            finally:
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()


def _config(base: str) -> ClientConfig:
    return ClientConfig(
        client_id="client",
        client_secret="secret",
        authorization_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/token",
        profile_endpoint=f"{base}/userinfo",
        connect_timeout=0.5,
        read_timeout=1.0,
    )


def test_a_trickling_token_endpoint_is_cut_at_the_budget_and_not_retried(trickling_idp):
    started = time.monotonic()
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(_config(trickling_idp), code="c", redirect_uri="https://rp/cb")
    assert time.monotonic() - started < BUDGET + 2
    assert excinfo.value.code == "token_timeout"
    assert excinfo.value.retryable


def test_a_trickling_profile_endpoint_is_cut_at_the_budget(trickling_idp):
    started = time.monotonic()
    with pytest.raises(OAuthError) as excinfo:
        fetch_profile(_config(trickling_idp), access_token="at")
    assert time.monotonic() - started < BUDGET + 2
    assert excinfo.value.code == "userinfo_timeout"


def test_a_trickling_jwks_endpoint_is_cut_at_the_budget(trickling_idp):
    source = KeySource(jwks_uri=f"{trickling_idp}/jwks", connect_timeout=0.5, read_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(TokenError) as excinfo:
        jwks_get(source=source)
    assert time.monotonic() - started < BUDGET + 2
    assert excinfo.value.code == "jwks_unavailable"


def test_a_trickling_discovery_document_is_cut_at_the_budget(trickling_idp):
    from integrations.oauth.discovery import DiscoveryError, discover

    started = time.monotonic()
    with pytest.raises(DiscoveryError):
        discover(trickling_idp, timeout=(0.5, 1.0))
    assert time.monotonic() - started < BUDGET + 2


def test_a_shorter_budget_is_cut_on_time_while_a_longer_one_runs(trickling_idp):
    """One watchdog serves every call: a call due sooner than the one it waits for must not
    wait behind it."""
    from integrations.egress.policy import EgressError, Purpose
    from integrations.egress.transport import send

    long_call = threading.Thread(
        target=lambda: pytest.raises(
            EgressError,
            send,
            "GET",
            trickling_idp,
            purpose=Purpose.IDP,
            timeout=(0.5, 1.0),
            total_timeout=6,
        ),
        daemon=True,
    )
    long_call.start()
    time.sleep(0.3)
    started = time.monotonic()
    with pytest.raises(EgressError) as excinfo:
        send("GET", trickling_idp, purpose=Purpose.IDP, timeout=(0.5, 1.0), total_timeout=1.0)
    assert time.monotonic() - started < 1.0 + 1.5
    assert excinfo.value.reason == "total_timeout"
    long_call.join(10)
    assert not long_call.is_alive()


@pytest.fixture
def quick_server():
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the client holds its socket open

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield f"{url}/"


def test_calls_with_a_budget_leave_no_thread_or_open_socket_behind(quick_server, settings):
    import gc
    import os

    from integrations.egress.policy import Purpose
    from integrations.egress.transport import send

    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    send("GET", quick_server, purpose=Purpose.IDP, timeout=(1, 1), total_timeout=60)
    gc.collect()
    threads, descriptors = threading.active_count(), len(os.listdir("/proc/self/fd"))
    for _ in range(40):
        response = send("GET", quick_server, purpose=Purpose.IDP, timeout=(1, 1), total_timeout=60)
        assert response.status_code == 200
    gc.collect()
    assert threading.active_count() <= threads + 1  # the server may still hold one handler
    assert len(os.listdir("/proc/self/fd")) <= descriptors + 2


def test_a_forked_process_gets_a_watchdog_of_its_own(trickling_idp):
    """An RQ work horse is forked from its worker: whatever the parent's watchdog was doing at
    that moment, the child's calls are still cut at their budget."""
    import os

    from integrations.egress import deadline, policy, transport

    deadline._watchdog._condition.acquire()  # the parent's thread held the lock at fork time
    try:
        pid = os.fork()
        if pid == 0:  # the child: report through the exit status only
            code = 1
            try:
                started = time.monotonic()
                transport.send(
                    "GET",
                    trickling_idp,
                    purpose=policy.Purpose.IDP,
                    timeout=(0.5, 1.0),
                    total_timeout=1.0,
                )
            except policy.EgressError as exc:
                code = 0 if exc.reason == "total_timeout" and time.monotonic() - started < 3 else 2
            finally:
                os._exit(code)
    finally:
        deadline._watchdog._condition.release()
    deadline = time.monotonic() + 10
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on the watchdog's lock")
    assert os.waitstatus_to_exitcode(done[1]) == 0
