"""What `send` puts on the wire is what requests' own preparation makes of the same call: the
request line, the body and its type, the credentials; the URL's preparation is kept per URL, the
rest is made for each call."""

import http.server

import pytest
import requests
from requests.auth import HTTPBasicAuth

from integrations.egress.policy import EgressError, Purpose
from integrations.egress.transport import send, session_for
from tests.local_server import QuietHandler, serving


class _Recorder(http.server.ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, dict, bytes]] = []


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.do_POST()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.path, dict(self.headers), body))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def recorder(settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    server = _Recorder()
    with serving(server):
        yield server


def _post(url, **kwargs):
    return send("POST", url, purpose=Purpose.IDP, timeout=(2, 2), total_timeout=4, **kwargs)


CALLS = [
    ("/token", {"data": {"grant_type": "authorization_code", "code": "é 1&2"}}),
    ("/token", {"data": {"grant_type": "refresh_token"}, "auth": HTTPBasicAuth("cl ient", "s:é")}),
    ("/hook?a=1 2&b=ü", {"data": b'{"x": 1}', "headers": {"Content-Type": "application/json"}}),
    ("/päth/ü", {"data": b"raw"}),
]


@pytest.mark.parametrize(("path", "call"), CALLS)
def test_a_call_reaches_the_server_as_requests_prepares_it(recorder, path, call):
    url = f"http://127.0.0.1:{recorder.server_address[1]}{path}"
    expected = requests.Request("POST", url, **call).prepare()
    for _ in range(2):  # the second with the URL's preparation kept from the first
        assert _post(url, **call).status_code == 204
    for received_path, headers, body in recorder.received:
        assert f"http://127.0.0.1:{recorder.server_address[1]}{received_path}" == expected.url
        assert body == (expected.body.encode() if isinstance(expected.body, str) else expected.body)
        for name in ("Content-Type", "Content-Length", "Authorization"):
            assert headers.get(name) == expected.headers.get(name), name
    assert len(recorder.received) == 2


def test_two_urls_of_one_host_each_reach_their_own_path(recorder):
    base = f"http://127.0.0.1:{recorder.server_address[1]}"
    for path in ("/a", "/b", "/a"):
        _post(base + path, data=b"")
    assert [path for path, _, _ in recorder.received] == ["/a", "/b", "/a"]


def test_a_header_that_would_split_the_request_is_refused_and_nothing_is_sent(recorder):
    url = f"http://127.0.0.1:{recorder.server_address[1]}/hook"
    with pytest.raises(EgressError):
        _post(url, data=b"{}", headers={"X-Token": "a\r\nX-Injected: 1"})
    assert recorder.received == []


def test_the_request_line_names_the_path_and_a_proxy_given_explicitly_gets_the_whole_url(
    recorder,
):
    """Our calls never name a proxy, and the server gets the path alone. A session given a
    proxy on purpose still goes through it as requests does (absolute URL in the request line)."""
    base = f"http://127.0.0.1:{recorder.server_address[1]}"
    _post(f"{base}/token?x=1", data=b"")
    session = session_for(Purpose.IDP)
    session.get("http://idp.example.com/userinfo?y=2", proxies={"http": base}, timeout=2)
    assert [path for path, _, _ in recorder.received] == [
        "/token?x=1",
        "http://idp.example.com/userinfo?y=2",
    ]
