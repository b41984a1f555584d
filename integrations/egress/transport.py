"""Sending to customer-configured URLs (integrations/egress/policy.py says which): the URL is
checked again, the address the socket actually connected to is checked (DNS rebinding cannot
reach an internal address), redirects are never followed, bodies are capped, and every call has
an overall deadline (integrations/egress/deadline.py).

Errors say "connection failed" in general terms so that they cannot serve as a port scanner.
"""

import os
import threading
import time
from dataclasses import dataclass
from functools import cache, lru_cache
from http.cookiejar import DefaultCookiePolicy

import requests
from requests.adapters import HTTPAdapter
from requests.exceptions import InvalidURL
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from integrations.egress.deadline import Deadline, open_sockets
from integrations.egress.policy import EgressError, Purpose, address_allowed, check_url


class ResponseTooLargeError(EgressError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The answer was larger than {limit} bytes.", reason="too_large")


class _PeerCheckMixin:
    egress_purpose: Purpose = Purpose.IDP

    def _new_conn(self):
        sock = super()._new_conn()
        try:
            peer = sock.getpeername()[0]
        except OSError:
            peer = ""
        if not address_allowed(peer, self.egress_purpose):
            sock.close()
            raise OSError("connection to a non-public address refused")
        opened = getattr(open_sockets, "current", None)
        if opened is not None:
            opened.append(sock)
        return sock


# A kept-alive connection idle for longer is closed rather than reused: servers close idle
# connections after a while of their own (often 5 s or more), and a request sent on one just
# as the server closes it fails, which a token request may never be retried after.
KEEP_ALIVE_IDLE_SECONDS = 2.0


class _DeadlineOnReuseMixin:
    """A kept-alive connection taken from the pool was opened (and its peer checked) by an
    earlier call: the current call's deadline must be able to cut its socket too. One idle
    for more than KEEP_ALIVE_IDLE_SECONDS is not reused."""

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        idle_since = getattr(conn, "egress_idle_since", None)
        if idle_since is not None and time.monotonic() - idle_since > KEEP_ALIVE_IDLE_SECONDS:
            conn.close()  # the request opens (and checks) a new one
        opened = getattr(open_sockets, "current", None)
        if opened is not None and conn.sock is not None:
            opened.append(conn.sock)
        return conn

    def _put_conn(self, conn) -> None:
        if conn is not None:
            conn.egress_idle_since = time.monotonic()
        super()._put_conn(conn)


@cache
def _adapter_class(purpose: Purpose) -> type[HTTPAdapter]:
    """An HTTPAdapter whose connections check their peer address for `purpose`; built once per
    purpose (building classes on every call cost CPU on each login's IdP calls)."""
    http_conn = type("GuardedHTTPConnection", (_PeerCheckMixin, HTTPConnection), {})
    https_conn = type("GuardedHTTPSConnection", (_PeerCheckMixin, HTTPSConnection), {})
    http_conn.egress_purpose = https_conn.egress_purpose = purpose
    http_pool = type(
        "GuardedHTTPPool",
        (_DeadlineOnReuseMixin, HTTPConnectionPool),
        {"ConnectionCls": http_conn},
    )
    https_pool = type(
        "GuardedHTTPSPool",
        (_DeadlineOnReuseMixin, HTTPSConnectionPool),
        {"ConnectionCls": https_conn},
    )

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

        # No call of ours gives a proxy (`session_for` turns the environment's off): requests
        # parsed the URL twice a call looking for one, a fortieth of a webhook's CPU. These two
        # are HTTPAdapter's hooks for subclasses; with a proxy, requests' own.
        def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
            if proxies:
                return super().get_connection_with_tls_context(request, verify, proxies, cert)
            try:
                host, pool = self.build_connection_pool_key_attributes(request, verify, cert)
            except ValueError as exc:
                raise InvalidURL(exc, request=request) from exc
            return self.poolmanager.connection_from_host(**host, pool_kwargs=pool)

        def request_url(self, request, proxies):
            return super().request_url(request, proxies) if proxies else request.path_url

    return GuardedAdapter


def _adapter(purpose: Purpose) -> HTTPAdapter:
    # No automatic retries: a token POST that may have reached the IdP must never be repeated.
    return _adapter_class(purpose)(max_retries=0)


def session_for(purpose: Purpose) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or netrc credentials from the environment
    # Never a cookie: a kept-alive session serves every account whose IdP is on the same host,
    # and nothing one answer sets may travel with another account's request.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = _adapter(purpose)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


_kept_alive = threading.local()


def kept_alive_session(purpose: Purpose) -> requests.Session:
    """This thread's session for `purpose`, whose connections stay open between calls (one
    login's token and profile calls, and the next logins', reuse them). A forked process starts
    its own: sockets are never shared with the parent."""
    if getattr(_kept_alive, "pid", None) != os.getpid():
        _kept_alive.pid = os.getpid()
        _kept_alive.sessions = {}
    session = _kept_alive.sessions.get(purpose)
    if session is None:
        session = _kept_alive.sessions[purpose] = session_for(purpose)
    return session


@dataclass
class EgressResponse:
    status_code: int
    headers: requests.structures.CaseInsensitiveDict
    content: bytes
    elapsed_ms: int

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


def send(
    method: str,
    url: str,
    *,
    purpose: Purpose,
    timeout: tuple[float, float],
    max_bytes: int = 1024 * 1024,
    headers: dict | None = None,
    data=None,
    auth=None,
    session: requests.Session | None = None,
    truncate: bool = False,
    total_timeout: float | None = None,
) -> EgressResponse:
    """One HTTP call to a customer-configured URL. Raises EgressError (never follows redirects).

    `truncate`: keep the first `max_bytes` of a longer answer instead of raising
    ResponseTooLargeError. `total_timeout`: seconds the whole call may take, on top of the
    per-read `timeout`.
    """
    check_url(url, purpose=purpose)
    session = session or session_for(purpose)
    started = time.monotonic()
    deadline = Deadline(total_timeout)
    try:
        with deadline:
            response = _request_and_read(
                session,
                method,
                url,
                headers=headers,
                data=data,
                auth=auth,
                timeout=timeout,
                max_bytes=max_bytes,
                truncate=truncate,
            )
    except requests.exceptions.ConnectTimeout as exc:
        raise EgressError("The connection timed out.", reason="connect_timeout") from exc
    except requests.exceptions.ReadTimeout as exc:
        raise EgressError("No answer in time (read timeout).", reason="read_timeout") from exc
    except requests.exceptions.SSLError as exc:
        raise EgressError("The TLS certificate could not be verified.", reason="tls") from exc
    except requests.exceptions.RequestException as exc:
        if deadline.expired:
            raise EgressError("No complete answer in time.", reason="total_timeout") from exc
        raise EgressError("The connection failed.", reason="connection_failed") from exc
    if deadline.expired:
        # A cut connection can look like a normal end of the body.
        raise EgressError("No complete answer in time.", reason="total_timeout")
    status_code, response_headers, body = response
    return EgressResponse(
        status_code=status_code,
        headers=response_headers,
        content=body,
        elapsed_ms=int((time.monotonic() - started) * 1000),
    )


@lru_cache(maxsize=256)
def _prepared_url(url: str) -> str:
    """`url` as requests prepares it (IDNA host, quoted path), kept: a drain sends to the same
    endpoint URL every time, and preparing it again was half of each request's preparation."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return prepared.url


def _prepared(method: str, url: str, *, headers: dict, data, auth) -> requests.PreparedRequest:
    """What `requests.Request(method, url, headers=headers, data=data, auth=auth).prepare()`
    makes, by the same public steps, less two that do nothing for these calls: the cookies (the
    sessions refuse every cookie, see `session_for`) and the credentials a URL may carry
    (`check_url` refuses such URLs). The headers are still checked for line breaks
    (`prepare_headers`)."""
    prepared = requests.PreparedRequest()
    prepared.prepare_method(method)
    prepared.url = _prepared_url(url)
    prepared.prepare_headers(headers)
    prepared.prepare_body(data, None)
    if auth is not None:
        prepared.prepare_auth(auth, prepared.url)
    return prepared


def _request_and_read(
    session, method, url, *, headers, data, auth, timeout, max_bytes, truncate
) -> tuple[int, requests.structures.CaseInsensitiveDict, bytes]:
    # Prepared here and handed to the session's adapter: `Session.request` would merge the
    # environment's settings, the session's cookies and hooks and its parameters, none of which
    # these sessions use (trust_env off, cookies refused, no hooks), for a third of the call's
    # CPU. Redirects are not followed either way, and no cookie of an answer is kept.
    headers = {**session.headers, **(headers or {})}
    prepared = _prepared(method, url, headers=headers, data=data, auth=auth)
    response = session.get_adapter(url).send(
        prepared, stream=True, timeout=timeout, verify=session.verify, cert=session.cert
    )
    try:
        body = bytearray()
        for chunk in response.iter_content(chunk_size=min(65536, max_bytes + 1)):
            body.extend(chunk)
            if len(body) > max_bytes:
                if truncate:
                    del body[max_bytes:]
                    break
                raise ResponseTooLargeError(max_bytes)
    finally:
        response.close()
    return response.status_code, response.headers, bytes(body)
