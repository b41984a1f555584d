"""Outbound HTTP to addresses that customers configure: IdP endpoints, JWKS, discovery, webhooks.

These URLs are SSRF sinks (the server POSTs the client secret or signed payloads to them), so
every one is checked twice:

- when it is saved (`check_url`): https only (plain http only for loopback hosts when
  ALLOW_HTTP_LOOPBACK_ENDPOINTS is on), no credentials or fragment, no numeric-IP trickery
  (`2130706433`, `0x7f000001`, `0177.0.0.1`), and every address the host name resolves to must be
  public (not private, loopback, link-local, CGNAT, multicast, reserved, or IPv4-mapped forms of
  those; 6to4, Teredo and NAT64 addresses only when the IPv4 address they lead to is public);
- when it is used (`send`): the same URL check, then the address the socket actually connected
  to is checked again, so DNS rebinding cannot reach an internal address. Redirects are never
  followed and response bodies are capped.

Errors say "connection failed" in general terms so that they cannot serve as a port scanner.
"""

import contextlib
import heapq
import ipaddress
import itertools
import os
import socket
import threading
import time
from dataclasses import dataclass
from enum import Enum
from functools import cache
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class Purpose(Enum):
    IDP = "idp"
    WEBHOOK = "webhook"


class EgressError(Exception):
    """An outbound call could not be made or completed. `str()` is safe to show to users."""

    def __init__(self, message: str, *, reason: str = "connection_failed") -> None:
        super().__init__(message)
        self.reason = reason


class DisallowedURLError(EgressError):
    """The URL is not one we may call."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="disallowed_url")


class ResponseTooLargeError(EgressError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"The answer was larger than {limit} bytes.", reason="too_large")


_INTERNAL_SUFFIXES = (".local", ".internal", ".localdomain", ".lan", ".home.arpa", ".intranet")
WEBHOOK_PORTS = frozenset({443, 8443})


def _is_loopback_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(value.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# RFC 6052's well-known NAT64 prefix: the IPv4 address is the last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# RFC 8215's local-use NAT64 prefix: where the IPv4 address sits depends on the prefix length the
# network chose, so it cannot be checked; a translator of one's own network is private anyway.
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")


def _tunnelled_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address that a 6to4, Teredo or NAT64 address leads to, else None."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # (relay server, client): the packets are for the client
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def _never_allowed(address) -> bool:
    """Ranges no setting opens (link-local: cloud metadata services live there)."""
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return True
    return address.is_link_local


def _dev_allows(address, purpose: Purpose) -> bool:
    """Development settings that open loopback (and, for webhooks, private) addresses."""
    if address.is_loopback and settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS:
        return True
    if purpose is Purpose.WEBHOOK and settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES:
        # Never the link-local range: cloud metadata services live there.
        return (address.is_private or address.is_loopback) and not address.is_link_local
    return False


def address_allowed(address: str, purpose: Purpose) -> bool:
    """May we connect to this IP address?"""
    try:
        ip = _ip(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL_USE:
            return False
        tunnelled = _tunnelled_ipv4(ip)
        if tunnelled is not None:
            # These lead through a relay or translator to the IPv4 address they embed, which must
            # be public; no development setting opens them, as they never reach this machine.
            # Not left to `is_global`: which of these ranges it calls global changed between
            # Python releases (CVE-2024-4032), and 6to4 of 127.0.0.1 was "global".
            return tunnelled.is_global and not _never_allowed(tunnelled)
    if _never_allowed(ip):
        return False
    return ip.is_global or _dev_allows(ip, purpose)


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DisallowedURLError(f"The host name {host!r} could not be resolved.") from exc
    return sorted({info[4][0] for info in infos})


@dataclass(frozen=True)
class CheckedURL:
    url: str
    host: str
    port: int
    scheme: str


def check_url(url: str, *, purpose: Purpose, resolve: bool = True) -> CheckedURL:
    """Refuse URLs we must not call; see the module docstring. Raises DisallowedURLError."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise DisallowedURLError("This is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in ("https", "http") or not host:
        raise DisallowedURLError("Enter an absolute https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise DisallowedURLError("The URL must not contain a user name or password.")
    if parts.fragment or url.strip().endswith("#"):
        raise DisallowedURLError("The URL must not contain a fragment (#…).")
    port = port or (443 if scheme == "https" else 80)

    literal = None
    try:
        literal = _ip(host.strip("[]"))
    except ValueError:
        try:
            socket.inet_aton(host)
        except OSError:
            pass
        else:
            # inet_aton accepts 2130706433, 0x7f000001, 0177.0.0.1, 127.1: never canonical.
            raise DisallowedURLError("Write IP addresses in their usual dotted form.") from None

    loopback = (literal is not None and literal.is_loopback) or (
        literal is None and _is_loopback_name(host)
    )
    if scheme == "http" and not (loopback and settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS):
        raise DisallowedURLError("The URL must start with https://.")

    internal_name = "." not in host or host.endswith(_INTERNAL_SUFFIXES)
    if literal is None and not loopback and internal_name:
        raise DisallowedURLError("Internal host names are not allowed; use a public name.")
    addresses = [str(literal)] if literal is not None else []
    if literal is None and (resolve or loopback):
        addresses = _resolve(host, port)
    for address in addresses:
        if not address_allowed(address, purpose):
            raise DisallowedURLError(
                "This address is private, loopback or otherwise not public; it is not allowed."
            )
    if purpose is Purpose.WEBHOOK and port not in WEBHOOK_PORTS:
        dev = addresses and all(_dev_allows(_ip(a), purpose) for a in addresses)
        if not dev:
            raise DisallowedURLError(f"Use the standard https port (443 or 8443), not {port}.")
    return CheckedURL(url=url.strip(), host=host, port=port, scheme=scheme)


# ---------------------------------------------------------------------------- sending
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
        opened = getattr(_open_sockets, "current", None)
        if opened is not None:
            opened.append(sock)
        return sock


# The sockets opened by the current `send` call, so that its overall deadline can cut them.
_open_sockets = threading.local()


class _Deadline:
    """Shuts down a call's sockets after `seconds`: per-read timeouts alone let a receiver that
    drips one byte at a time hold a worker for hours."""

    def __init__(self, seconds: float | None) -> None:
        self.sockets: list[socket.socket] = []
        self.expired = False
        self.finished = False
        self._seconds = seconds

    def expire(self) -> None:
        if self.finished:
            return
        self.expired = True
        for sock in list(self.sockets):
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> "_Deadline":
        _open_sockets.current = self.sockets
        if self._seconds:
            _watchdog.watch(time.monotonic() + self._seconds, self)
        return self

    def __exit__(self, *exc_info) -> None:
        _open_sockets.current = None
        self.finished = True
        # The watchdog keeps this object until its time comes; it must not keep the sockets
        # (and their file descriptors) open that long.
        self.sockets.clear()


class _Watchdog:
    """One thread per process that expires the calls' deadlines when they are due.

    A `threading.Timer` per call started a thread for every call to an IdP: about 0.4 ms of CPU,
    a third of the call's own. Finished calls are not removed; they are dropped when they reach
    the front of the queue.
    """

    def __init__(self) -> None:
        self._start_afresh()

    def _start_afresh(self) -> None:
        self._due: list[tuple[float, int, _Deadline]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, when: float, deadline: _Deadline) -> None:
        with self._condition:
            heapq.heappush(self._due, (when, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():  # first call, or after fork
                self._thread = threading.Thread(
                    target=self._run, name="egress-deadlines", daemon=True
                )
                self._thread.start()
            elif self._due[0][2] is deadline:
                self._condition.notify()  # due before whatever the thread waits for

    def _run(self) -> None:
        while True:
            with self._condition:
                while True:
                    while self._due and self._due[0][2].finished:
                        heapq.heappop(self._due)
                    now = time.monotonic()
                    if self._due and self._due[0][0] <= now:
                        deadline = heapq.heappop(self._due)[2]
                        break
                    self._condition.wait(self._due[0][0] - now if self._due else None)
            deadline.expire()


_watchdog = _Watchdog()
# A forked child (an RQ work horse, a gunicorn worker of a preloaded app) has no watchdog
# thread, and may have copied the lock while the parent's thread held it.
os.register_at_fork(after_in_child=_watchdog._start_afresh)


@cache
def _adapter_class(purpose: Purpose) -> type[HTTPAdapter]:
    """An HTTPAdapter whose connections check their peer address for `purpose`; built once per
    purpose (building classes on every call cost CPU on each login's IdP calls)."""
    http_conn = type("GuardedHTTPConnection", (_PeerCheckMixin, HTTPConnection), {})
    https_conn = type("GuardedHTTPSConnection", (_PeerCheckMixin, HTTPSConnection), {})
    http_conn.egress_purpose = https_conn.egress_purpose = purpose
    http_pool = type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
    https_pool = type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})

    class GuardedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}

    return GuardedAdapter


def _adapter(purpose: Purpose) -> HTTPAdapter:
    # No automatic retries: a token POST that may have reached the IdP must never be repeated.
    return _adapter_class(purpose)(max_retries=0)


def session_for(purpose: Purpose) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or netrc credentials from the environment
    adapter = _adapter(purpose)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
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
    deadline = _Deadline(total_timeout)
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


def _request_and_read(
    session, method, url, *, headers, data, auth, timeout, max_bytes, truncate
) -> tuple[int, requests.structures.CaseInsensitiveDict, bytes]:
    response = session.request(
        method,
        url,
        headers=headers,
        data=data,
        auth=auth,
        timeout=timeout,
        allow_redirects=False,
        stream=True,
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
