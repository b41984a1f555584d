"""The OAuth 2.0 client: it only speaks HTTP.

Explicit URLs and credentials come in (`ClientConfig`), `OAuthError` goes out. No models, no
settings: every call goes through `integrations.egress.transport`, which applies the SSRF rules,
never follows redirects, never retries and caps response bodies.

- `authorization_url()` builds the authorization request (RFC 6749 §4.1.1, PKCE per RFC 7636
  with S256 only: the server assumes `plain` when the method is omitted, so it is always sent);
- `exchange_code()` makes the token request (§4.1.3) with `client_secret_post` or
  `client_secret_basic` (§2.3.1: id and secret percent-encoded before Base64) and parses the
  answer strictly (§5.1, §5.2). It is never retried: an authorization code is single-use, and a
  repeated POST can only earn `invalid_grant`;
- `fetch_profile()` calls the userinfo / REST profile endpoint with the access token in the
  Authorization header (RFC 6750 §2.1), never in the URL;
- `authorization_endpoint_probe()` and `token_endpoint_probe()` serve the admin's
  "Test connection".

oauthlib's `WebApplicationClient` (and the module functions behind it) writes the
authorization request's parameters and the token request body, makes the PKCE verifier and its
S256 challenge, and reads the token answer (§5.2 errors, a missing access token, a changed
scope). Our own code does only what oauthlib does not: the Basic header's encoding, the size,
depth and time limits, the egress guard, and the checks oauthlib leaves to an environment
variable or does not make (token_type, the types of the members).

`str(OAuthError)` is written for an administrator: it never contains the client secret, a
token or the IdP's answer body. Functions that hold a secret or a token in a local variable are
marked `sensitive_variables()`, so that error reports do not show it.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables
from oauthlib.oauth2 import WebApplicationClient
from oauthlib.oauth2.rfc6749.errors import MissingTokenError, OAuth2Error
from oauthlib.oauth2.rfc6749.parameters import validate_token_parameters
from oauthlib.oauth2.rfc6749.tokens import OAuth2Token

from core.json_input import JSONDepthError, json_loads_bounded
from integrations.egress.policy import EgressError, Purpose
from integrations.egress.transport import EgressResponse, kept_alive_session, send

logger = logging.getLogger(__name__)

CLIENT_SECRET_POST = "client_secret_post"
CLIENT_SECRET_BASIC = "client_secret_basic"
AUTH_METHODS = (CLIENT_SECRET_POST, CLIENT_SECRET_BASIC)

# Token and profile answers larger than this are refused (a token response is a few KB).
MAX_RESPONSE_BYTES = 1024 * 1024

# Parameters of the authorization request that we set; an endpoint URL that already carries
# one of them would make the parameter repeat, which RFC 6749 §3.1 forbids.
AUTHORIZATION_PARAMETERS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    }
)

# RFC 6749 §5.2 error codes we pass on as `OAuthError.code`; anything else is "token_error".
TOKEN_ERROR_CODES = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    }
)

_PKCE_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# RFC 6749 §5.2: error codes are NQSCHAR; we also cap the length before quoting one to an admin.
_SAFE_ERROR_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
# RFC 6750 §2.1 b64token, loosened to any visible ASCII: the token goes into a header.
_HEADER_SAFE_TOKEN = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class ClientConfig:
    """What the client needs to talk to one IdP. The secret is left out of the repr."""

    client_id: str
    client_secret: str = field(repr=False)
    authorization_endpoint: str
    token_endpoint: str
    auth_method: str = CLIENT_SECRET_POST
    scope: str = ""
    profile_endpoint: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.auth_method not in AUTH_METHODS:
            raise ValueError(f"Unknown client authentication method {self.auth_method!r}.")

    @classmethod
    @sensitive_variables()
    def from_integration(cls, integration) -> ClientConfig:
        """Build from an OAuthIntegration.

        Raises `IntegrationConfigurationError` (from `integration.get_client_secret()`) when the
        stored secret cannot be decrypted, so that the ciphertext never reaches an IdP.
        """
        return cls(
            client_id=integration.client_id,
            client_secret=integration.get_client_secret(),
            authorization_endpoint=integration.authorization_endpoint,
            token_endpoint=integration.token_endpoint,
            auth_method=integration.client_auth_method,
            scope=integration.scope,
            profile_endpoint=integration.profile_endpoint,
            connect_timeout=integration.connect_timeout,
            read_timeout=integration.read_timeout,
        )

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)

    @property
    def total_timeout(self) -> float:
        # Per-read timeouts alone let an IdP that trickles its answer hold a worker for hours.
        return self.connect_timeout + self.read_timeout


class OAuthError(Exception):
    """A step of the OAuth exchange failed.

    - `code`: a stable, machine-readable reason (`invalid_grant`, `token_timeout`, …);
    - `step`: `"authorize"`, `"token"` or `"userinfo"`;
    - `retryable`: starting the login again may succeed (timeouts, server errors, an expired
      code); False when the configuration must change first;
    - `status_code`: the IdP's HTTP status, when it answered.

    `str(error)` is a plain-words message safe to show an administrator.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        step: str,
        retryable: bool = False,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.step = step
        self.retryable = retryable
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"<OAuthError {self.step}:{self.code} status={self.status_code}>"


# ---------------------------------------------------------------------------- PKCE
PKCE_VERIFIER_LENGTH = 64  # base64url, 64 of the 66 unreserved characters: 384 bits (RFC 7636)


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 §4.2); never oauthlib's `plain`."""
    if not _PKCE_VERIFIER.fullmatch(verifier):
        raise ValueError("A PKCE verifier is 43 to 128 unreserved characters.")
    return WebApplicationClient(None).create_code_challenge(verifier, "S256")


def pkce_pair() -> tuple[str, str]:
    """A fresh (verifier, S256 challenge). The verifier is 48 bytes of the system's CSPRNG in
    base64url: 64 unreserved characters, drawn at once, where oauthlib's generator asks the
    system for each character (a twentieth of a login start's CPU)."""
    verifier = secrets.token_urlsafe(PKCE_VERIFIER_LENGTH * 3 // 4)
    return verifier, pkce_challenge(verifier)


# ---------------------------------------------------------------------------- authorization
def check_authorization_endpoint(url: str) -> None:
    """Refuse an endpoint that already carries one of the parameters we add (RFC 6749 §3.1)."""
    clashing = sorted(
        {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
        & AUTHORIZATION_PARAMETERS
    )
    if clashing:
        raise OAuthError(
            ngettext(
                "The authorization endpoint already contains the parameter %(names)s; remove it "
                "from the URL, it is added by us.",
                "The authorization endpoint already contains the parameters %(names)s; remove "
                "them from the URL, they are added by us.",
                len(clashing),
            )
            % {"names": ", ".join(clashing)},
            code="authorization_endpoint_invalid",
            step="authorize",
        )


def authorization_url(
    config: ClientConfig,
    *,
    redirect_uri: str,
    state: str,
    nonce: str | None = None,
    code_challenge: str | None = None,
) -> str:
    """The URL to send the participant's browser to (RFC 6749 §4.1.1, RFC 7636 §4.3).

    Query parameters already in the endpoint URL are kept as they are; ours are appended.
    """
    if not state:
        raise ValueError("state is required.")
    check_authorization_endpoint(config.authorization_endpoint)
    parts = urlsplit(config.authorization_endpoint)
    # oauthlib writes our parameters onto the bare endpoint, over https: given the endpoint's
    # own query it would re-encode it (a B2C policy's `p=…` must reach the IdP byte for byte),
    # and it refuses http unless an environment variable opens it for the whole process. Which
    # endpoints may be called (http only for loopback in development) is the egress guard's
    # decision; the scheme given to oauthlib here is never used to connect anywhere.
    written = WebApplicationClient(config.client_id).prepare_request_uri(
        urlunsplit(("https", parts.netloc, parts.path, "", "")),
        redirect_uri=redirect_uri,
        scope=config.scope or None,
        state=state,
        code_challenge=code_challenge,
        # Always S256: oauthlib's default is `plain`, and so is the server's when it is omitted.
        code_challenge_method="S256",
        nonce=nonce,
    )
    query = "&".join(q for q in (parts.query, urlsplit(written).query) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


# ---------------------------------------------------------------------------- token request
@sensitive_variables()
def basic_authorization(client_id: str, client_secret: str) -> str:
    """The `Authorization` header value for client_secret_basic (RFC 6749 §2.3.1, App. B).

    Both parts are percent-encoded (UTF-8) before Base64, every character but the unreserved
    ones, so a ':' in the id or the secret cannot shift the split. A space is `%20`, never the
    form encoding's `+`: servers that form-decode the credentials (as §2.3.1 says) and those
    that only percent-decode them (Authlib, among others) then read the same secret, whereas a
    `+` reaches the second kind as a plus sign.
    """
    userpass = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(userpass.encode("ascii")).decode("ascii")


_ENDPOINT_NAMES = {
    "authorize": "authorization endpoint",
    "token": "token endpoint",
    "userinfo": "profile endpoint",
}


def _egress_error(exc: EgressError, *, step: str) -> OAuthError:
    what = _ENDPOINT_NAMES[step]
    reason = exc.reason
    if reason in ("connect_timeout", "read_timeout", "total_timeout"):
        if reason == "connect_timeout":
            message = f"The {what} could not be reached in time (connection timeout)."
        else:
            message = f"The {what} did not answer in time (read timeout)."
        return OAuthError(message, code=f"{step}_timeout", step=step, retryable=True)
    if reason == "tls":
        return OAuthError(
            f"The {what}'s TLS certificate could not be verified.",
            code=f"{step}_tls",
            step=step,
        )
    if reason == "too_large":
        return OAuthError(
            f"The {what} sent an answer larger than {MAX_RESPONSE_BYTES} bytes.",
            code=f"{step}_too_large",
            step=step,
        )
    if reason == "disallowed_url":
        return OAuthError(
            f"The {what} URL is not allowed: {exc}",
            code=f"{step}_url_refused",
            step=step,
        )
    return OAuthError(
        f"The connection to the {what} failed.",
        code=f"{step}_connection",
        step=step,
        retryable=True,
    )


def _json_object(content: bytes) -> dict | None:
    """The answer's JSON object, or None; JSONDepthError for one nested beyond the bound."""
    try:
        data = json_loads_bounded(content.decode("utf-8"))
    except JSONDepthError:
        raise
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _too_deep(exc: JSONDepthError, *, step: str, status: int) -> OAuthError:
    what = _ENDPOINT_NAMES[step]
    return OAuthError(
        f"The {what}'s answer is nested too deeply (more than {exc.max_depth} levels).",
        code=f"{step}_too_deep",
        step=step,
        status_code=status,
    )


def _token_error(data: dict, status: int) -> OAuthError:
    error = data.get("error")
    if not isinstance(error, str) or not _SAFE_ERROR_CODE.fullmatch(error):
        error = ""
    if error == "invalid_client" or (status == 401 and error not in TOKEN_ERROR_CODES):
        return OAuthError(
            "The IdP rejected the client credentials: check the client secret and the client "
            "authentication method.",
            code="invalid_client",
            step="token",
            status_code=status,
        )
    if error == "invalid_grant":
        return OAuthError(
            "The IdP refused the authorization code (expired, already used or not issued to "
            "this client).",
            code="invalid_grant",
            step="token",
            retryable=True,
            status_code=status,
        )
    if error in TOKEN_ERROR_CODES:
        return OAuthError(
            f"The IdP refused the token request with the error “{error}”.",
            code=error,
            step="token",
            status_code=status,
        )
    if error:
        return OAuthError(
            f"The IdP refused the token request with the error “{error}”.",
            code="token_error",
            step="token",
            # Some IdPs borrow these authorization-response codes (RFC 6749 §4.1.2.1) here.
            retryable=status >= 500 or error in ("server_error", "temporarily_unavailable"),
            status_code=status,
        )
    return OAuthError(
        f"The token endpoint answered with HTTP {status}.",
        code="token_http",
        step="token",
        retryable=status >= 500,
        status_code=status,
    )


def _invalid_answer(what: str, status: int) -> OAuthError:
    return OAuthError(
        f"The token endpoint's answer {what}.",
        code="token_invalid_response",
        step="token",
        status_code=status,
    )


@sensitive_variables()
def _token_response(
    status: int, content: bytes, *, requested_scope: str = "", bearer_required: bool = True
) -> dict:
    """Parse a token endpoint answer strictly (RFC 6749 §5.1, §5.2).

    `bearer_required`: the access token will be sent somewhere (the profile endpoint), so it
    must be a Bearer token; without that we never use it, and a type we do not know (Slack's
    `bot`) is no reason to refuse the login (RFC 6749 §7.1 forbids using such a token, not
    receiving one).
    """
    try:
        data = _json_object(content)
    except JSONDepthError as exc:
        raise _too_deep(exc, step="token", status=status) from None
    if data is None:
        # The status says more than an HTML error page: a rejected client, a redirect, an outage.
        if status == 401 or status >= 500 or 300 <= status < 400:
            raise _token_error({}, status)
        raise OAuthError(
            "The token endpoint did not answer with a JSON object (it may have returned an "
            "HTML page).",
            code="token_invalid_json",
            step="token",
            status_code=status,
        )
    if not 200 <= status < 300 and "error" not in data:
        raise _token_error(data, status)
    for name in ("id_token", "scope", "refresh_token"):
        if name in data and not isinstance(data[name], str):
            raise _invalid_answer(f"has an invalid {name}", status)

    # oauthlib reads the answer: an RFC 6749 §5.2 error, a missing access token, a scope other
    # than the one requested (§3.3).
    try:
        validate_token_parameters(OAuth2Token(dict(data), old_scope=requested_scope or None))
    except MissingTokenError:
        id_token = data.get("id_token")
        # Azure AD B2C answers `scope=openid` with an id_token alone: the login still has an
        # identity (validated by the caller); there is just no access token to call userinfo with.
        if not isinstance(id_token, str) or not id_token:
            raise _invalid_answer("has no access token", status) from None
    except OAuth2Error as exc:
        raise _token_error({"error": exc.error}, status) from None
    except Warning as changed:
        # oauthlib raises a changed scope as a Warning unless an environment variable relaxes
        # it for the whole process; it is information for us (Entra leaves `openid` out of the
        # scope it returns), and the granted scope stays in the answer for the mapping.
        logger.info(
            "token scope differs from the one requested: missing=%s added=%s",
            " ".join(sorted(changed.token.missing_scopes))[:200],
            " ".join(sorted(changed.token.additional_scopes))[:200],
        )
    if not 200 <= status < 300:
        # An error member that oauthlib did not raise on (it only looks at known shapes).
        raise _token_error(data, status)

    access_token = data.get("access_token")
    token_type = data.get("token_type")
    if "access_token" in data and (not isinstance(access_token, str) or not access_token):
        raise _invalid_answer("has no access token", status)
    # oauthlib checks the presence of token_type only behind an environment variable, and its
    # value never: a token we send must be a Bearer token (RFC 6750), whatever the case.
    if (
        access_token
        and bearer_required
        and (not isinstance(token_type, str) or token_type.lower() != "bearer")
    ):
        raise _invalid_answer("is not a Bearer token (token_type)", status)
    # expires_in is only informative to us; some IdPs send it as a string.
    expires_in = data.get("expires_in")
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        data["expires_in"] = int(expires_in.strip())
    elif expires_in is not None and (
        isinstance(expires_in, bool) or not isinstance(expires_in, int)
    ):
        data.pop("expires_in")
    return data


def idp_send(
    config: ClientConfig, method: str, url: str, *, step: str, headers: dict, data=None
) -> EgressResponse:
    """One call to an endpoint of `config`'s IdP, within its timeouts and the response cap, on
    this thread's kept-alive connection (a login's token and profile calls, and the next
    logins', share it). Raises OAuthError for `step`."""
    try:
        return send(
            method,
            url,
            purpose=Purpose.IDP,
            timeout=config.timeout,
            total_timeout=config.total_timeout,
            max_bytes=MAX_RESPONSE_BYTES,
            headers=headers,
            data=data,
            session=kept_alive_session(Purpose.IDP),
        )
    except EgressError as exc:
        raise _egress_error(exc, step=step) from None


@sensitive_variables()
def _token_request(config: ClientConfig, body: str) -> tuple[int, bytes, str]:
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    if config.auth_method == CLIENT_SECRET_BASIC:
        headers["Authorization"] = basic_authorization(config.client_id, config.client_secret)
    response = idp_send(
        config,
        "POST",
        config.token_endpoint,
        step="token",
        headers=headers,
        data=body.encode("ascii"),
    )
    return response.status_code, response.content, response.headers.get("Content-Type", "")


@sensitive_variables()
def token_request_body(
    config: ClientConfig, *, code: str, redirect_uri: str, code_verifier: str | None = None
) -> str:
    """The token request's form body (RFC 6749 §4.1.3), written by oauthlib.

    With client_secret_post the client id and secret are in it (§2.3.1); with
    client_secret_basic they are in the Authorization header only (one method per request).
    """
    post = config.auth_method == CLIENT_SECRET_POST
    return WebApplicationClient(config.client_id).prepare_request_body(
        code=code,
        redirect_uri=redirect_uri,
        code_verifier=code_verifier or None,
        include_client_id=post,
        client_secret=config.client_secret if post else None,
    )


@sensitive_variables()
def exchange_code(
    config: ClientConfig, *, code: str, redirect_uri: str, code_verifier: str | None = None
) -> dict:
    """Exchange an authorization code for tokens; returns the parsed token response.

    Raises OAuthError. Never retried (see the module docstring).
    """
    body = token_request_body(
        config, code=code, redirect_uri=redirect_uri, code_verifier=code_verifier
    )
    status, content, content_type = _token_request(config, body)
    try:
        return _token_response(
            status,
            content,
            requested_scope=config.scope,
            bearer_required=bool(config.profile_endpoint),
        )
    except OAuthError as exc:
        # Status and content type help support; the body may echo secrets, so it stays out.
        logger.info(
            "token request failed: error=%s status=%s content_type=%.60s",
            exc.code,
            status,
            content_type,
        )
        raise


# ---------------------------------------------------------------------------- profile
@sensitive_variables()
def fetch_profile(config: ClientConfig, *, access_token: str) -> dict:
    """GET the profile endpoint with the access token as a Bearer header; a JSON object."""
    if not config.profile_endpoint:
        raise OAuthError(
            "No profile endpoint is configured.",
            code="userinfo_not_configured",
            step="userinfo",
        )
    if not isinstance(access_token, str) or not _HEADER_SAFE_TOKEN.fullmatch(access_token):
        raise OAuthError(
            "The access token contains characters that cannot be sent in a header.",
            code="userinfo_invalid_token",
            step="userinfo",
        )
    response = idp_send(
        config,
        "GET",
        config.profile_endpoint,
        step="userinfo",
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    status = response.status_code
    if status in (401, 403):
        raise OAuthError(
            f"The profile endpoint refused the access token (HTTP {status}).",
            code="userinfo_unauthorized",
            step="userinfo",
            status_code=status,
        )
    if not 200 <= status < 300:
        raise OAuthError(
            f"The profile endpoint answered with HTTP {status}.",
            code="userinfo_failed",
            step="userinfo",
            retryable=status >= 500,
            status_code=status,
        )
    try:
        data = _json_object(response.content)
    except JSONDepthError as exc:
        raise _too_deep(exc, step="userinfo", status=status) from None
    if data is None:
        raise OAuthError(
            "The profile endpoint did not answer with a JSON object.",
            code="userinfo_invalid_json",
            step="userinfo",
            status_code=status,
        )
    return data
