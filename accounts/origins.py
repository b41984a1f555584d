"""The web origins allowed to frame a campaign (CSP `frame-ancestors`): parsing and validation.

An origin is a scheme, a host and an optional port, nothing else: `https://shop.example.com` or
`https://shop.example.com:8443`. No path, no wildcard, no user name: each site that may embed a
campaign is listed exactly, since every one of them can put the campaign's form under its own
buttons. Only https, except `http://localhost:<port>` (and 127.0.0.1, [::1]) in development
(ALLOW_HTTP_LOOPBACK_ENDPOINTS, in force with DEBUG alone): an origin stored then is dropped
from the header again as soon as the flag is off.

What is stored is the normalised form (`frame_origin_parse`): lower case, the host in ASCII
(IDNA), no default port; the header is written from it and from nothing else.
"""

import ipaddress
import re
from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

# More would be a sign of a list that nobody checks any more.
MAX_FRAME_ORIGINS = 20
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_DEFAULT_PORTS = {"https": 443, "http": 80}
_LOOPBACK_NAMES = ("localhost",)
EXAMPLE = "https://www.example.com"


def _host_ascii(hostname: str) -> str | None:
    """The host as an origin writes it (lower-case ASCII, IDNA for a name, [brackets] for IPv6),
    or None when it is not a valid host."""
    if ":" in hostname:
        try:
            return f"[{ipaddress.IPv6Address(hostname).compressed}]"
        except ValueError:
            return None
    try:
        return str(ipaddress.IPv4Address(hostname))
    except ValueError:
        pass
    try:
        name = hostname.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None  # 127.1, 2130706433: an address not written as one
    return name


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def http_loopback_allowed() -> bool:
    """Whether http://localhost origins count now (development only)."""
    return bool(getattr(settings, "ALLOW_HTTP_LOOPBACK_ENDPOINTS", False))


def frame_origin_parse(value: str) -> str:
    """The normalised origin written in `value`; raises ValidationError saying what to change."""
    text = (value or "").strip()
    if not text:
        raise ValidationError(
            "Enter a site's address, e.g. %(example)s.", params={"example": EXAMPLE}
        )
    if "*" in text:
        raise ValidationError(
            "“%(value)s”: wildcards are not allowed. List each site exactly, e.g. %(example)s.",
            params={"value": text, "example": EXAMPLE},
            code="wildcard",
        )
    if "://" not in text:
        raise ValidationError(
            "“%(value)s”: write the whole address, starting with https://.",
            params={"value": text},
            code="scheme",
        )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValidationError(
            "“%(value)s” is not a valid address.", params={"value": text}, code="invalid"
        ) from None
    scheme = parts.scheme.lower()
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "“%(value)s”: an address to embed from holds no user name or password.",
            params={"value": text},
            code="credentials",
        )
    host = _host_ascii(parts.hostname) if parts.hostname else None
    if host is None:
        raise ValidationError(
            "“%(value)s” does not name a valid host.", params={"value": text}, code="host"
        )
    if port == 0:
        raise ValidationError(
            "“%(value)s”: the port must be between 1 and 65535.", params={"value": text}
        )
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS.get(scheme) else ""
    origin = f"{scheme}://{host}{suffix}"
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValidationError(
            "“%(value)s”: only the site's address, without a path: %(origin)s.",
            params={"value": text, "origin": origin},
            code="path",
        )
    if scheme == "https":
        return origin
    if scheme == "http" and _is_loopback(host) and http_loopback_allowed():
        return origin
    raise ValidationError(
        "“%(value)s”: use https://. Browsers only keep a campaign safe in a page served over "
        "https.",
        params={"value": text},
        code="https_required",
    )


def frame_origins_parse(values) -> list[str]:
    """The normalised origins of a list (duplicates dropped, order kept); raises one
    ValidationError listing every entry that is wrong, so that all are fixed at once."""
    origins: list[str] = []
    errors: list[ValidationError] = []
    for value in values:
        if not isinstance(value, str):
            errors.append(ValidationError("Each entry must be a site's address."))
            continue
        if not value.strip():
            continue
        try:
            origin = frame_origin_parse(value)
        except ValidationError as error:
            errors.append(error)
            continue
        if origin not in origins:
            origins.append(origin)
    if errors:
        raise ValidationError(errors)
    if len(origins) > MAX_FRAME_ORIGINS:
        raise ValidationError(
            "List at most %(max)d sites.", params={"max": MAX_FRAME_ORIGINS}, code="too_many"
        )
    return origins


def validate_frame_origins(value) -> None:
    """Model validator: a list of origins, each once and already in its normalised form."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("Enter a list of sites' addresses.", code="invalid")
    if frame_origins_parse(value) != value:
        raise ValidationError(
            "Write each site once, as %(example)s.", params={"example": EXAMPLE}, code="form"
        )


def frame_origins_in_force(origins) -> list[str]:
    """The stored origins that may frame a page now: an http://localhost one stored in
    development is dropped when the development flag is off, and anything unreadable too."""
    kept = []
    for origin in origins if isinstance(origins, list) else []:
        try:
            if isinstance(origin, str) and frame_origin_parse(origin) == origin:
                kept.append(origin)
        except ValidationError:
            continue
    return kept


class FrameOriginsField(forms.Field):
    """One site's address per line, stored as the list of their normalised origins."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "spellcheck": "false"})

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(str(v) for v in value)
        return value

    def to_python(self, value):
        if isinstance(value, list):
            return frame_origins_parse(value)
        return frame_origins_parse((value or "").splitlines())

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != (initial or [])
        except ValidationError:
            return True
