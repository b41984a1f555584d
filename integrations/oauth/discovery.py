"""Import an IdP's settings from its OpenID Connect discovery document.

`discover()` takes an issuer (`https://idp.example.com/realms/x`) or the full discovery URL
(`…/.well-known/openid-configuration`), fetches the document through the egress guard and
returns the endpoints. `discover_from_endpoints()` looks for the document of an IdP whose
endpoints were typed by hand, at the well-known addresses of the authorization endpoint's origin
and path prefixes. Both are called from the admin form's `clean()`, never from `Model.save()`.

The document is only trusted when its `issuer` equals, character for character, the issuer it
was fetched for (RFC 8414 §3.3, OpenID Connect Discovery 1.0 §4.3): otherwise an attacker who
controls one document could hand out another IdP's identity (a mix-up, RFC 9700 §4.4). Every
endpoint in it passes the same URL rules as endpoints typed by hand.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from core.json_input import JSONDepthError, json_loads_bounded
from integrations.egress.policy import DisallowedURLError, EgressError, Purpose, check_url
from integrations.egress.transport import send

WELL_KNOWN_SUFFIX = "/.well-known/openid-configuration"
# RFC 8414 §3.1: inserted between the host and the issuer's path, not appended.
AS_METADATA_WELL_KNOWN = "/.well-known/oauth-authorization-server"
MAX_DOCUMENT_BYTES = 512 * 1024
DEFAULT_TIMEOUT = (5.0, 10.0)
# Looking for a document from typed endpoints: path prefixes tried, and the whole search's time.
MAX_PROBED_PREFIXES = 6
PROBE_BUDGET_SECONDS = 15.0


class DiscoveryError(Exception):
    """The discovery document could not be used. `str()` is plain words for an administrator."""


@dataclass(frozen=True)
class DiscoveryResult:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str = ""
    jwks_uri: str = ""
    # When the IdP omits it, both specifications say the default is client_secret_basic.
    token_endpoint_auth_methods_supported: tuple[str, ...] = ("client_secret_basic",)
    authorization_response_iss_parameter_supported: bool = False
    # Empty: the IdP does not say whether it supports PKCE.
    code_challenge_methods_supported: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] = ()


def discovery_urls(url: str) -> tuple[str, str]:
    """(document URL, expected issuer) for an issuer or a full discovery URL."""
    url = url.strip()
    if url.endswith(WELL_KNOWN_SUFFIX):
        return url, url[: -len(WELL_KNOWN_SUFFIX)]
    # OIDC Discovery §4.1: a terminating "/" is removed before the suffix is appended, but the
    # issuer the document must name is the one given.
    return url.rstrip("/") + WELL_KNOWN_SUFFIX, url


def _endpoint(metadata: dict, name: str, *, required: bool) -> str:
    value = metadata.get(name)
    if value is None or value == "":
        if required:
            raise DiscoveryError(f"The discovery document has no {name}.")
        return ""
    if not isinstance(value, str):
        raise DiscoveryError(f"The discovery document's {name} is not a URL.")
    try:
        check_url(value, purpose=Purpose.IDP)
    except DisallowedURLError as exc:
        raise DiscoveryError(f"The discovery document's {name} is not allowed: {exc}") from None
    return value


def _strings(metadata: dict, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = metadata.get(name)
    if value is None:
        return default
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise DiscoveryError(f"The discovery document's {name} is not a list of names.")
    return tuple(value)


def _fetch(document_url: str, *, timeout: tuple[float, float], total_timeout: float) -> dict:
    """The JSON object served at `document_url`; raises DiscoveryError in plain words."""
    try:
        response = send(
            "GET",
            document_url,
            purpose=Purpose.IDP,
            timeout=timeout,
            total_timeout=total_timeout,
            max_bytes=MAX_DOCUMENT_BYTES,
            headers={"Accept": "application/json"},
        )
    except DisallowedURLError as exc:
        raise DiscoveryError(f"This address is not allowed: {exc}") from None
    except EgressError as exc:
        if exc.reason in ("connect_timeout", "read_timeout", "total_timeout"):
            raise DiscoveryError("The discovery URL did not answer in time.") from None
        if exc.reason == "too_large":
            raise DiscoveryError("The discovery document is too large to be one.") from None
        if exc.reason == "tls":
            raise DiscoveryError(
                "The discovery URL's TLS certificate could not be verified."
            ) from None
        raise DiscoveryError("The connection to the discovery URL failed.") from None

    if response.status_code != 200:
        raise DiscoveryError(
            f"The discovery URL answered with HTTP {response.status_code} instead of the "
            "document: check the address."
        )
    try:
        metadata = json_loads_bounded(response.content.decode("utf-8"))
    except JSONDepthError as exc:
        raise DiscoveryError(
            f"The discovery document is nested too deeply (more than {exc.max_depth} levels) "
            "to be one."
        ) from None
    except (UnicodeDecodeError, ValueError):
        raise DiscoveryError(
            "The discovery URL did not return JSON (perhaps a web page): check the address."
        ) from None
    if not isinstance(metadata, dict):
        raise DiscoveryError("The discovery document is not a JSON object.")
    return metadata


def _result(metadata: dict, issuer: str) -> DiscoveryResult:
    iss_supported = metadata.get("authorization_response_iss_parameter_supported", False)
    if not isinstance(iss_supported, bool):
        raise DiscoveryError(
            "The discovery document's authorization_response_iss_parameter_supported is not "
            "true or false."
        )
    return DiscoveryResult(
        issuer=issuer,
        authorization_endpoint=_endpoint(metadata, "authorization_endpoint", required=True),
        token_endpoint=_endpoint(metadata, "token_endpoint", required=True),
        userinfo_endpoint=_endpoint(metadata, "userinfo_endpoint", required=False),
        jwks_uri=_endpoint(metadata, "jwks_uri", required=False),
        token_endpoint_auth_methods_supported=_strings(
            metadata, "token_endpoint_auth_methods_supported", ("client_secret_basic",)
        ),
        authorization_response_iss_parameter_supported=iss_supported,
        code_challenge_methods_supported=_strings(metadata, "code_challenge_methods_supported", ()),
        scopes_supported=_strings(metadata, "scopes_supported", ()),
    )


def _issuer_named(metadata: dict) -> str:
    issuer = metadata.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise DiscoveryError("The discovery document names no issuer.")
    return issuer


def discover(url: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> DiscoveryResult:
    """Fetch and check the discovery document for `url`. Raises DiscoveryError."""
    document_url, expected_issuer = discovery_urls(url)
    try:
        check_url(expected_issuer, purpose=Purpose.IDP)
    except DisallowedURLError as exc:
        raise DiscoveryError(f"This address is not allowed: {exc}") from None
    metadata = _fetch(document_url, timeout=timeout, total_timeout=sum(timeout))
    issuer = _issuer_named(metadata)
    if issuer != expected_issuer:
        raise DiscoveryError(
            "The discovery document belongs to another issuer than the address given "
            f"(it names “{issuer[:200]}”). If that is your IdP, paste exactly that issuer."
        )
    return _result(metadata, issuer)


# ---------------------------------------------------------------------------- from endpoints
def document_url_for(issuer: str, *, well_known: str) -> str:
    """Where the metadata of `issuer` lives: OpenID Connect Discovery §4.1 appends its suffix to
    the issuer (less a terminating "/"); RFC 8414 §3.1 inserts its own between the host and the
    issuer's path."""
    if well_known == WELL_KNOWN_SUFFIX:
        return issuer.rstrip("/") + WELL_KNOWN_SUFFIX
    parts = urlsplit(issuer)
    return urlunsplit((parts.scheme, parts.netloc, well_known + parts.path.rstrip("/"), "", ""))


def probe_candidates(authorization_endpoint: str) -> list[tuple[str, str]]:
    """(document URL, well-known suffix) to try for an IdP whose authorization endpoint this is:
    for the longest path prefix first (Keycloak's …/realms/x/protocol/openid-connect/auth has its
    document at …/realms/x/.well-known/openid-configuration), down to the bare origin."""
    parts = urlsplit(authorization_endpoint)
    segments = [segment for segment in parts.path.split("/") if segment]
    # The last segment names the endpoint itself ("authorize"): no issuer ends there.
    prefixes = ["/" + "/".join(segments[:n]) for n in range(len(segments) - 1, 0, -1)]
    prefixes = [*prefixes[:MAX_PROBED_PREFIXES], ""]
    candidates: list[tuple[str, str]] = []
    for prefix in prefixes:
        issuer = urlunsplit((parts.scheme, parts.netloc, prefix, "", ""))
        for well_known in (WELL_KNOWN_SUFFIX, AS_METADATA_WELL_KNOWN):
            candidate = (document_url_for(issuer, well_known=well_known), well_known)
            if candidate not in candidates:
                candidates.append(candidate)
    return candidates


@dataclass(frozen=True)
class EndpointDiscovery:
    """What looking for a document from typed endpoints found.

    `found`: the document's settings, only when it is the issuer's own and names exactly the
    typed endpoints. `document_url`: where it was (or where a document that did not qualify
    was). `refusal`: why that document was not used, in words for the administrator. `tried`:
    every address asked.
    """

    found: DiscoveryResult | None = None
    document_url: str = ""
    refusal: str = ""
    tried: tuple[str, ...] = field(default_factory=tuple)


def discover_from_endpoints(
    *,
    authorization_endpoint: str,
    token_endpoint: str,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    budget_seconds: float = PROBE_BUDGET_SECONDS,
) -> EndpointDiscovery:
    """Look for the discovery document of the IdP whose endpoints an administrator typed.

    A document is used only when two things hold, and this is what makes it as trustworthy as
    one imported from an issuer the administrator pasted (and lets it mark the issuer verified):

    - issuer equality for the address it was fetched from (RFC 8414 §3.3, OpenID Connect
      Discovery §4.3): its `issuer` is exactly the one whose well-known address we fetched. The
      document therefore comes from the host that issuer names, at the place where that
      issuer's metadata lives, as with the import: nobody but the issuer's own server could
      have served it there;
    - its authorization and token endpoints are, character for character, the ones typed. The
      codes and the client secret then go where the issuer's own metadata says they go, so
      taking its issuer, JWKS URI and profile endpoint binds nothing to another IdP: an account
      that typed another IdP's endpoints gets that IdP's issuer only where it truly talks to
      that IdP, which the import from its discovery URL would have given it just the same.

    Anything else (no document, a document of another issuer or for other endpoints) is
    reported, never used. Never raises for the IdP's answers; the search stops at the first
    usable document or after `budget_seconds`.
    """
    deadline = time.monotonic() + budget_seconds
    tried: list[str] = []
    # The first document found that did not qualify, to say why it was not used.
    refused: tuple[str, str] = ("", "")
    for document_url, well_known in probe_candidates(authorization_endpoint):
        remaining = deadline - time.monotonic()
        if remaining <= 0.5:
            break
        tried.append(document_url)
        try:
            metadata = _fetch(document_url, timeout=timeout, total_timeout=remaining)
            issuer = _issuer_named(metadata)
        except DiscoveryError:
            continue
        if document_url_for(issuer, well_known=well_known) != document_url:
            if not refused[0]:
                refused = (
                    document_url,
                    f"it names the issuer “{issuer[:200]}”, whose metadata is not at that address",
                )
            continue
        try:
            result = _result(metadata, issuer)
        except DiscoveryError as exc:
            if not refused[0]:
                refused = (document_url, str(exc))
            continue
        if (result.authorization_endpoint, result.token_endpoint) != (
            authorization_endpoint,
            token_endpoint,
        ):
            if not refused[0]:
                refused = (document_url, "its authorization and token endpoints are not these")
            continue
        return EndpointDiscovery(found=result, document_url=document_url, tried=tuple(tried))
    return EndpointDiscovery(document_url=refused[0], refusal=refused[1], tried=tuple(tried))
