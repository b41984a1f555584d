"""The SSRF guard shared by the OAuth client, discovery and webhooks."""

import http.server
import socket

import pytest
import responses

from integrations.egress.policy import (
    DisallowedURLError,
    EgressError,
    Purpose,
    address_allowed,
    check_url,
)
from integrations.egress.transport import ResponseTooLargeError, send
from tests.local_server import QuietHandler, serving

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


# IPv6 addresses that lead to a non-public IPv4 address through a relay or translator.
TUNNELLED_TO_INTERNAL = [
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2002:a00:1::",  # 6to4 of 10.0.0.1
    # Teredo: relay 65.54.227.120 (4136:e378), then flags and port; the client's address is
    # the last 32 bits inverted: ~127.0.0.1 = 80ff:fffe, ~169.254.169.254 = 5601:5601.
    "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "2001:0:4136:e378:8000:63bf:5601:5601",
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::a00:1",  # local-use NAT64: never, whatever it embeds
    "64:ff9b:1::5db8:d822",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::ffff:0:7f00:1",  # IPv4-translated
    "::ffff:169.254.169.254",  # IPv4-mapped
]
# The same forms around public IPv4 addresses (93.184.216.34 = 5db8:d822), and plain IPv6.
TUNNELLED_TO_PUBLIC = [
    "2002:5db8:d822::",
    "2001:0:4136:e378:8000:63bf:a247:27dd",
    "64:ff9b::5db8:d822",
    "2606:2800:220:1:248:1893:25c8:1946",
]


@pytest.mark.parametrize("address", TUNNELLED_TO_INTERNAL)
@pytest.mark.parametrize("purpose", list(Purpose))
def test_ipv6_forms_of_internal_ipv4_addresses_are_refused(address, purpose):
    with pytest.raises(DisallowedURLError, match="not public"):
        check_url(f"https://[{address}]/token", purpose=purpose)
    # The address a socket connected to is checked by the same rule (DNS rebinding).
    assert not address_allowed(address, purpose)


@pytest.fixture
def resolves_to(monkeypatch):
    """Make idp.example.com resolve to the given IPv6 address (the DNS boundary)."""

    def resolve(address):
        def getaddrinfo(host, port, *args, **kwargs):
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)

    return resolve


@pytest.mark.parametrize("address", TUNNELLED_TO_INTERNAL)
def test_a_name_resolving_to_an_ipv6_form_of_an_internal_address_is_refused(address, resolves_to):
    resolves_to(address)
    with pytest.raises(DisallowedURLError, match="not public"):
        check_url("https://idp.example.com/token", purpose=Purpose.IDP)


def test_development_settings_do_not_open_tunnelled_forms_of_loopback_or_private(settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = True
    assert address_allowed("127.0.0.1", Purpose.WEBHOOK)
    for address in ("2002:7f00:1::", "64:ff9b::a00:1", "2001:0:4136:e378:8000:63bf:80ff:fffe"):
        assert not address_allowed(address, Purpose.WEBHOOK)


@pytest.mark.parametrize("address", TUNNELLED_TO_PUBLIC)
def test_ipv6_forms_of_public_addresses_are_allowed(address, resolves_to):
    assert check_url(f"https://[{address}]/token", purpose=Purpose.IDP)
    resolves_to(address)
    assert check_url("https://idp.example.com/token", purpose=Purpose.IDP)
    assert address_allowed(address, Purpose.WEBHOOK)


class _Handler(QuietHandler):
    def do_GET(self):  # noqa: N802
        body = b"x" * int(self.path.strip("/") or 10)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def local_server():
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)) as url:
        yield url


def test_connected_address_is_checked_at_send_time(settings, local_server):
    """DNS rebinding: even if a URL passed the check, the socket's peer is checked again."""
    from integrations.egress.transport import session_for

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


def test_a_url_checked_before_is_judged_again_by_the_settings_of_now(settings):
    """The URL's form is read once, the settings that open addresses are read at every check:
    turning the development allowance off refuses a URL that passed a moment before."""
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = True
    assert check_url("http://127.0.0.1:9000/hook", purpose=Purpose.WEBHOOK)
    assert check_url("https://10.0.0.5:9000/hook", purpose=Purpose.WEBHOOK)
    assert address_allowed("10.0.0.5", Purpose.WEBHOOK)
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = False
    with pytest.raises(DisallowedURLError, match="https://"):
        check_url("http://127.0.0.1:9000/hook", purpose=Purpose.WEBHOOK)
    with pytest.raises(DisallowedURLError, match="not public"):
        check_url("https://10.0.0.5:9000/hook", purpose=Purpose.WEBHOOK)
    assert not address_allowed("10.0.0.5", Purpose.WEBHOOK)
    # The private allowance alone does not open a non-standard port on a public address.
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = True
    with pytest.raises(DisallowedURLError, match="port"):
        check_url("https://93.184.216.34:9000/hook", purpose=Purpose.WEBHOOK)


def test_a_host_name_is_resolved_at_every_check(resolves_to):
    """A name that resolved to a public address and now resolves to an internal one (DNS
    rebinding between two calls) is refused at the next check."""
    resolves_to("2606:2800:220:1:248:1893:25c8:1946")
    assert check_url("https://idp.example.com/token", purpose=Purpose.IDP)
    resolves_to("64:ff9b::a9fe:a9fe")
    with pytest.raises(DisallowedURLError, match="not public"):
        check_url("https://idp.example.com/token", purpose=Purpose.IDP)


@pytest.mark.parametrize("url", REFUSED)
def test_a_refused_url_stays_refused(url):
    for _ in range(2):
        with pytest.raises(DisallowedURLError):
            check_url(url, purpose=Purpose.IDP)
