"""TE-09: an IdP that trickles its answer must not hold a worker beyond the call's budget.

Per-read timeouts alone do not bound a call: a server that sends one byte just inside each
read timeout keeps the connection alive for as long as it likes. Every call to an IdP (token,
profile, JWKS) therefore has an overall budget of connect + read timeout.
"""

import socket
import threading
import time

import pytest

from integrations.oauth import ClientConfig, OAuthError, exchange_code, fetch_profile
from integrations.tokens import KeySource, TokenError, jwks_get

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
    from integrations.discovery import DiscoveryError, discover

    started = time.monotonic()
    with pytest.raises(DiscoveryError):
        discover(trickling_idp, timeout=(0.5, 1.0))
    assert time.monotonic() - started < BUDGET + 2
