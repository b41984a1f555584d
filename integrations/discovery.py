"""Import an IdP's settings from its OpenID Connect discovery document.

`discover()` takes an issuer (`https://idp.example.com/realms/x`) or the full discovery URL
(`…/.well-known/openid-configuration`), fetches the document through the egress guard and
returns the endpoints. It is called from the admin form's `clean()`, never from `Model.save()`.

The document is only trusted when its `issuer` equals, character for character, the issuer it
was fetched for (RFC 8414 §3.3, OpenID Connect Discovery 1.0 §4.3): otherwise an attacker who
controls one document could hand out another IdP's identity (a mix-up, RFC 9700 §4.4). Every
endpoint in it passes the same URL rules as endpoints typed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from .egress import DisallowedURLError, EgressError, Purpose, check_url, send
from .json_input import JSONDepthError, json_loads_bounded

WELL_KNOWN_SUFFIX = "/.well-known/openid-configuration"
MAX_DOCUMENT_BYTES = 512 * 1024
DEFAULT_TIMEOUT = (5.0, 10.0)


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


def discover(url: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> DiscoveryResult:
    """Fetch and check the discovery document for `url`. Raises DiscoveryError."""
    document_url, expected_issuer = discovery_urls(url)
    try:
        check_url(expected_issuer, purpose=Purpose.IDP)
        response = send(
            "GET",
            document_url,
            purpose=Purpose.IDP,
            timeout=timeout,
            total_timeout=sum(timeout),
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

    issuer = metadata.get("issuer")
    if not isinstance(issuer, str) or not issuer:
        raise DiscoveryError("The discovery document names no issuer.")
    if issuer != expected_issuer:
        raise DiscoveryError(
            "The discovery document belongs to another issuer than the address given "
            f"(it names “{issuer[:200]}”). If that is your IdP, paste exactly that issuer."
        )
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
