"""The SSRF guard shared by the OAuth client, discovery and webhooks."""

import http.server
import threading

import pytest
import responses

from integrations.egress import (
    DisallowedURLError,
    EgressError,
    Purpose,
    ResponseTooLargeError,
    check_url,
    send,
)

REFUSED = [
    "http://127.0.0.1/",
    "http://localhost/",
    "https://10.0.0.5/",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://2130706433/",
    "https://0177.0.0.1/",
    "https://0x7f000001/",
    "https://127.1/",
    "https://100.64.0.1/",
    "https://[fd00::1]/",
    "https://224.0.0.1/",
    "https://0.0.0.0/",
    "https://intranet/",
    "https://db.internal/",
    "https://printer.local/",
    "file:///etc/passwd",
    "gopher://example.com/",
    "ftp://example.com/",
    "https://user:pass@idp.example.com/",
    "https://idp.example.com/token#frag",
    "https://does-not-resolve.invalid/",
    "http://idp.example.com/token",
    "not a url",
    "https://idp.example.com:99999/",
]


@pytest.fixture(autouse=True)
def _production_rules(settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = False


@pytest.mark.parametrize("url", REFUSED)
@pytest.mark.parametrize("purpose", list(Purpose))
def test_unsafe_urls_are_refused_with_a_reason(url, purpose):
    with pytest.raises(DisallowedURLError) as excinfo:
        check_url(url, purpose=purpose)
    assert str(excinfo.value)


def test_public_https_url_is_accepted():
    checked = check_url("https://idp.example.com/oauth/token", purpose=Purpose.IDP)
    assert (checked.host, checked.port) == ("idp.example.com", 443)


def test_webhook_ports_are_allowlisted_but_idp_ports_are_not():
    assert check_url("https://idp.example.com:8443/token", purpose=Purpose.IDP)
    assert check_url("https://idp.example.com:9443/token", purpose=Purpose.IDP)
    assert check_url("https://hooks.example.com:8443/in", purpose=Purpose.WEBHOOK)
    with pytest.raises(DisallowedURLError, match="port"):
        check_url("https://hooks.example.com:9443/in", purpose=Purpose.WEBHOOK)


def test_loopback_http_only_with_the_development_setting(settings):
    with pytest.raises(DisallowedURLError):
        check_url("http://127.0.0.1:9000/token", purpose=Purpose.IDP)
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    assert check_url("http://127.0.0.1:9000/token", purpose=Purpose.IDP)
    assert check_url("http://localhost:9000/token", purpose=Purpose.IDP)
    # The loopback allowance does not open private networks or plain http elsewhere.
    with pytest.raises(DisallowedURLError):
        check_url("https://10.0.0.5/token", purpose=Purpose.IDP)
    with pytest.raises(DisallowedURLError):
        check_url("http://idp.example.com/token", purpose=Purpose.IDP)


def test_private_webhook_setting_never_opens_link_local(settings):
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = True
    assert check_url("https://10.0.0.5/hook", purpose=Purpose.WEBHOOK)
    with pytest.raises(DisallowedURLError):
        check_url("https://169.254.169.254/latest/", purpose=Purpose.WEBHOOK)
    with pytest.raises(DisallowedURLError):
        check_url("https://10.0.0.5/hook", purpose=Purpose.IDP)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"x" * int(self.path.strip("/") or 10)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_connected_address_is_checked_at_send_time(settings, local_server):
    """DNS rebinding: even if a URL passed the check, the socket's peer is checked again."""
    from integrations.egress import session_for

    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    session = session_for(Purpose.IDP)
    with pytest.raises(Exception) as excinfo:
        session.get(local_server + "/10", timeout=2)
    assert "non-public" in str(excinfo.value)


def test_send_reads_a_capped_body(settings, local_server):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    response = send("GET", local_server + "/100", purpose=Purpose.IDP, timeout=(2, 2))
    assert response.status_code == 200 and response.content == b"x" * 100
    with pytest.raises(ResponseTooLargeError):
        send("GET", local_server + "/5000", purpose=Purpose.IDP, timeout=(2, 2), max_bytes=1000)


@responses.activate
def test_redirects_are_never_followed():
    responses.get(
        "https://idp.example.com/a",
        status=302,
        headers={"Location": "http://169.254.169.254/"},
    )
    response = send("GET", "https://idp.example.com/a", purpose=Purpose.IDP, timeout=(1, 1))
    assert response.status_code == 302
    assert len(responses.calls) == 1


def test_refused_connection_is_a_generic_error(settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    with pytest.raises(EgressError) as excinfo:
        send("GET", "http://127.0.0.1:1/", purpose=Purpose.IDP, timeout=(1, 1))
    assert str(excinfo.value) == "The connection failed."
