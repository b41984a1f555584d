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

import ipaddress
import socket
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings


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


def _dev_allows(address, purpose: Purpose, opened: tuple[bool, bool]) -> bool:
    """Development settings that open loopback (and, for webhooks, private) addresses;
    `opened` is `_opened()`."""
    loopback_open, private_open = opened
    if address.is_loopback and loopback_open:
        return True
    if purpose is Purpose.WEBHOOK and private_open:
        # Never the link-local range: cloud metadata services live there.
        return (address.is_private or address.is_loopback) and not address.is_link_local
    return False


def _opened() -> tuple[bool, bool]:
    """The development settings that open addresses: ALLOW_HTTP_LOOPBACK_ENDPOINTS,
    ALLOW_PRIVATE_WEBHOOK_ADDRESSES."""
    return settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS, settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES


def address_allowed(address: str, purpose: Purpose) -> bool:
    """May we connect to this IP address?"""
    return _address_verdict(address, purpose, _opened())[0]


def _address_dev_only(address: str, purpose: Purpose) -> bool:
    """Is this address allowed only by a development setting?"""
    return _address_verdict(address, purpose, _opened())[1]


# An address's verdict depends only on it, the purpose and the settings that open addresses (a
# key of the cache): every webhook sent and every IdP call checks the same few addresses, and
# `ipaddress` classifying them again was most of the 149,000 instructions of a `check_url`.
@lru_cache(maxsize=4096)
def _address_verdict(
    address: str, purpose: Purpose, opened: tuple[bool, bool]
) -> tuple[bool, bool]:
    """(may we connect to it, only because a development setting opens it)."""
    try:
        ip = _ip(address)
    except ValueError:
        return False, False
    allowed = _allowed(ip, purpose, opened)
    return allowed, allowed and _dev_allows(ip, purpose, opened)


def _allowed(ip, purpose: Purpose, opened: tuple[bool, bool]) -> bool:
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
    return ip.is_global or _dev_allows(ip, purpose, opened)


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
    checked, literal = _url_read(url)
    host, port, scheme = checked.host, checked.port, checked.scheme
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
        dev = addresses and all(_address_dev_only(a, purpose) for a in addresses)
        if not dev:
            raise DisallowedURLError(f"Use the standard https port (443 or 8443), not {port}.")
    return checked


# What the URL alone says (its form, its parts) is read once per URL: webhooks and IdP calls
# check the same few URLs at every send. Settings and DNS are consulted at every check.
@lru_cache(maxsize=1024)
def _url_read(url: str) -> tuple[CheckedURL, ipaddress.IPv4Address | ipaddress.IPv6Address | None]:
    """The URL's parts and the IP address it names literally (None for a host name). Raises
    DisallowedURLError for a URL of a form we never call (a refusal is not cached)."""
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
    return CheckedURL(url=url.strip(), host=host, port=port, scheme=scheme), literal
