"""The IdP's answer to one login, validated: the one call the callback makes into integrations.

`idp_answer_receive()` reads the authorization response (RFC 9207 `iss`, `error`, `code`), then,
behind the integration's circuit breaker and bulkhead, exchanges the code, validates the
id_token (and a JWT access token), reads the profile endpoint, and names the participant from
where the integration says their identifier comes. It returns an `IdPAnswer` or raises an
`IdPAnswerError` naming the failing step and a stable code; what a participant is then shown,
and whether an administrator is alerted, is the caller's business (participants/login/failures.py).

Nothing here knows campaigns or participants; the answer holds no token string.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from integrations.mapping.paths import PathError, ProfilePath, path_lookup, path_parse
from integrations.oauth.breaker import (
    Admission,
    circuit_admit,
    circuit_failure,
    circuit_success,
    circuit_trial_abandon,
)
from integrations.oauth.bulkhead import IdPBusyError, idp_call_slot
from integrations.oauth.client import ClientConfig, OAuthError, exchange_code, fetch_profile
from integrations.oauth.models import IdentifierSource
from integrations.oauth.snapshot import FlowSnapshot
from integrations.oauth.tokens import (
    TokenError,
    access_token_claims,
    access_token_validate,
    id_token_validate,
    tls_stands_in_for_signatures,
)

logger = logging.getLogger(__name__)

# Retry-After of a login refused because its integration's IdP calls are at their cap.
IDP_BUSY_RETRY_AFTER_SECONDS = 5
# Calls one login may make to the IdP: token, JWKS (and its refetch on an unknown key), profile;
# each ends within the integration's connect + read timeout. Plus a margin for our own work.
_IDP_CALLS_PER_LOGIN = 4
_MARGIN_SECONDS = 5
_AUTHORIZATION_ERROR = re.compile(r"[a-z0-9_]{1,40}")
_MAX_CODE_LENGTH = 2048
# Token response members that are credentials: never kept in the profile.
_TOKEN_MEMBERS = frozenset({"access_token", "id_token", "refresh_token"})
# Where a REST profile without `sub` keeps its id (Facebook, GitHub, SAP CDC, Salesforce).
PROFILE_IDENTIFIERS = ("sub", "id", "UID", "user_id")
SUBJECT_MAX_LENGTH = 255


class IdPAnswerError(Exception):
    """The login cannot go on with this answer. `step` and `code` name why, for the log and the
    failure catalogue; `detail` is for the log only (never shown, never a token)."""

    def __init__(
        self,
        *,
        step: str,
        code: str,
        detail: str = "",
        temporary: bool = False,
        retry_after: int | None = None,
        circuit_opened: bool = False,
    ) -> None:
        super().__init__(f"{step}:{code}")
        self.step = step
        self.code = code
        self.detail = detail
        # The IdP said, or behaved as if, trying again later may work (a 5xx, a timeout).
        self.temporary = temporary
        # Seconds a participant should wait before trying again (the IdP is paused or busy).
        self.retry_after = retry_after
        # This failure was the one that opened the IdP's circuit breaker (an outage).
        self.circuit_opened = circuit_opened
        # Milliseconds spent waiting on the IdP before the failure (None: no call was made).
        self.idp_ms: int | None = None


@dataclass(frozen=True)
class Identity:
    issuer_key: str
    subject: str


@dataclass
class IdPAnswer:
    # The profile the mapping reads, one dict per source (SPEC §4): id_token, access_token,
    # userinfo, token. Token strings are left out.
    parts: dict[str, dict]
    identity: Identity
    # Milliseconds spent waiting on the IdP.
    idp_ms: int = 0
    # The login went on without something it could not get (the profile endpoint failed):
    # recorded on the attempt and counted in the SSO activity log.
    warning: str = ""


# ---------------------------------------------------------------------------- the one call
@sensitive_variables("client_secret", "params", "code", "config")
def idp_answer_receive(
    *,
    snapshot: FlowSnapshot,
    params,
    client_secret: str,
    code_verifier: str = "",
    nonce: str = "",
) -> IdPAnswer:
    """The validated answer of the IdP that `snapshot`'s login was sent to; raises
    IdPAnswerError. `params` is the callback's query (a QueryDict or a dict of strings)."""
    code = authorization_code(snapshot=snapshot, params=params)
    try:
        config = snapshot.client_config(client_secret=client_secret)
    except ValueError as exc:
        raise IdPAnswerError(step="token", code="integration_unusable") from exc
    started = time.monotonic()
    try:
        return _guarded(snapshot, config, code=code, code_verifier=code_verifier, nonce=nonce)
    except IdPAnswerError as error:
        error.idp_ms = int((time.monotonic() - started) * 1000) or None
        raise


def authorization_code(*, snapshot: FlowSnapshot, params) -> str:
    """The code of the authorization response (RFC 6749 §4.1.2), after its issuer check."""
    # Mix-up defence (RFC 9207 §2.4): checked before trusting even an error answer.
    iss = params.get("iss")
    if iss is not None and iss != snapshot.issuer:
        raise IdPAnswerError(step="authorize", code="iss_mismatch")
    # On the shared callback URL, `iss` is what tells one IdP's answer from another's: required.
    if iss is None and (snapshot.iss_parameter_supported or snapshot.shared_callback):
        raise IdPAnswerError(step="authorize", code="iss_missing")
    if "error" in params:
        error = params.get("error", "")
        # Only a plain RFC 6749 error code is recorded; anything else is the IdP's free text,
        # and so is error_description: neither shown nor logged.
        reason = error if _AUTHORIZATION_ERROR.fullmatch(error) else "invalid"
        raise IdPAnswerError(step="authorize", code=f"idp_{reason}")
    code = params.get("code", "")
    if not code or len(code) > _MAX_CODE_LENGTH:
        raise IdPAnswerError(step="authorize", code="code_missing")
    return code


@sensitive_variables("config", "code", "code_verifier")
def _guarded(snapshot: FlowSnapshot, config: ClientConfig, **exchange) -> IdPAnswer:
    """`_exchange` behind the integration's circuit breaker and bulkhead: a login never calls
    an IdP whose circuit is open (or half-open with its trial under way), nor one that already
    has IDP_MAX_CONCURRENT_CALLS logins waiting on it (integrations/oauth/bulkhead.py says when
    a login waits a moment for a slot)."""
    integration_id = snapshot.integration_id
    admission = circuit_admit(
        integration_id=integration_id, trial_seconds=config.total_timeout + _MARGIN_SECONDS
    )
    if admission is Admission.OPEN:
        raise IdPAnswerError(
            step="token", code="circuit_open", retry_after=settings.IDP_BREAKER_OPEN_SECONDS
        )
    try:
        with idp_call_slot(
            integration_id=integration_id,
            hold_seconds=_IDP_CALLS_PER_LOGIN * config.total_timeout + _MARGIN_SECONDS,
        ):
            return _exchange(snapshot, config, trial=admission is Admission.TRIAL, **exchange)
    except IdPBusyError as exc:
        if admission is Admission.TRIAL:
            circuit_trial_abandon(integration_id=integration_id)
        raise IdPAnswerError(
            step="token", code="idp_busy", retry_after=IDP_BUSY_RETRY_AFTER_SECONDS
        ) from exc


@sensitive_variables("config", "code", "code_verifier", "tokens", "access_token")
def _exchange(
    snapshot: FlowSnapshot,
    config: ClientConfig,
    *,
    code: str,
    code_verifier: str,
    nonce: str,
    trial: bool,
) -> IdPAnswer:
    started = time.monotonic()
    tokens = _tokens(snapshot, config, code=code, code_verifier=code_verifier, trial=trial)
    keys = snapshot.key_source()
    id_claims = None
    id_token = tokens.get("id_token")
    if id_token is None and nonce:
        # We asked for OpenID Connect: without an id_token the nonce protects nothing.
        raise IdPAnswerError(step="id_token", code="id_token_missing")
    if id_token is not None:
        try:
            id_claims = id_token_validate(
                token=id_token,
                source=keys,
                issuer=snapshot.issuer,
                client_id=config.client_id,
                nonce=nonce or None,
                # Read just now from the token endpoint's own answer: without any keys, TLS may
                # vouch for it instead of a signature (OIDC Core §3.1.3.7 (6)).
                unsigned_over_tls=tls_stands_in_for_signatures(config.token_endpoint),
            )
        except TokenError as exc:
            raise IdPAnswerError(step="id_token", code=exc.code, detail=exc.detail) from exc
    access_token = tokens.get("access_token")
    at_claims = None
    if snapshot.identifier_source == IdentifierSource.ACCESS_TOKEN:
        # It names the participant: held to RFC 9068 §4, and the login fails without it.
        try:
            at_claims = access_token_validate(
                token=access_token, source=keys, issuer=snapshot.issuer, client_id=config.client_id
            )
        except TokenError as exc:
            raise IdPAnswerError(step="access_token", code=exc.code, detail=exc.detail) from exc
    elif access_token:
        at_claims = access_token_claims(token=access_token, source=keys, issuer=snapshot.issuer)

    warning = ""
    userinfo = None
    if config.profile_endpoint and access_token:
        try:
            userinfo = fetch_profile(config, access_token=access_token)
        except OAuthError as exc:
            if id_claims is None:
                # The profile endpoint is the only source of identity: nothing to go on.
                raise IdPAnswerError(step="userinfo", code=exc.code) from exc
            # Policy (UI-03): carry on with the id_token's claims alone, and say so in the
            # activity log (counted per integration above its list).
            logger.warning("sso userinfo failed, continuing: error=%s", exc.code)
            warning = exc.code
        if userinfo is not None and not userinfo_matches(
            id_token_claims=id_claims, userinfo=userinfo
        ):
            logger.warning(
                "sso userinfo discarded: sub differs from the id_token (integration=%s)",
                snapshot.integration_id,
            )
            warning = "userinfo_sub_mismatch"
            userinfo = None
    parts = profile_parts(
        token_response=tokens,
        id_token_claims=id_claims,
        access_token_claims=at_claims,
        userinfo=userinfo,
    )
    identity = identity_of(parts=parts, snapshot=snapshot)
    return IdPAnswer(
        parts=parts,
        identity=identity,
        idp_ms=int((time.monotonic() - started) * 1000),
        warning=warning,
    )


@sensitive_variables("config", "code", "code_verifier")
def _tokens(
    snapshot: FlowSnapshot, config: ClientConfig, *, code: str, code_verifier: str, trial: bool
) -> dict:
    """The token endpoint's answer; the circuit breaker hears how the IdP fared."""
    integration_id = snapshot.integration_id
    try:
        tokens = exchange_code(
            config,
            code=code,
            redirect_uri=snapshot.redirect_uri,
            code_verifier=code_verifier or None,
        )
    except OAuthError as exc:
        opened = False
        if exc.retryable and exc.code != "invalid_grant":
            # Timeouts, refused connections, 5xx: the IdP, not this participant (RF-04).
            opened = circuit_failure(integration_id=integration_id)
        else:
            # It answered (a refused code, a configuration problem): it is up.
            circuit_success(integration_id=integration_id, trial=trial)
        raise IdPAnswerError(
            step="token", code=exc.code, temporary=exc.retryable, circuit_opened=opened
        ) from exc
    circuit_success(integration_id=integration_id, trial=trial)
    return tokens


# ---------------------------------------------------------------------------- the profile
def profile_parts(
    *,
    token_response: dict,
    id_token_claims: dict | None,
    access_token_claims: dict | None,
    userinfo: dict | None,
) -> dict[str, dict]:
    """The profile the mapping reads, one dict per source (SPEC §4)."""
    return {
        "id_token": dict(id_token_claims or {}),
        "access_token": dict(access_token_claims or {}),
        "userinfo": dict(userinfo or {}),
        "token": _without_tokens(token_response),
    }


def _without_tokens(value: Any) -> Any:
    """The token answer without its token strings, at any depth: Slack's `authed_user` holds a
    user token of its own, which must no more reach a form than the top-level one."""
    if isinstance(value, dict):
        return {k: _without_tokens(v) for k, v in value.items() if k not in _TOKEN_MEMBERS}
    if isinstance(value, list):
        return [_without_tokens(item) for item in value]
    return value


def userinfo_matches(*, id_token_claims: dict | None, userinfo: dict) -> bool:
    """OIDC Core §5.3.2: a userinfo `sub` other than the id_token's makes the userinfo unusable.

    A profile without any `sub` is a REST "get profile" answer (Salesforce's identity URL, SAP
    CDC's account info), not OIDC userinfo: it is kept, having been fetched with the access
    token of this very exchange.
    """
    if not id_token_claims or "sub" not in userinfo:
        return True
    return userinfo["sub"] == id_token_claims.get("sub")


# ---------------------------------------------------------------------------- the identity
def identifier_path(source: str, field: str) -> ProfilePath:
    """The mapping path of an identifier setting: `token` + `athlete.id` is `token.athlete.id`,
    so that a mapping table and the identity read the same value. Raises PathError."""
    field = field.strip()
    return path_parse(text=f"{source}{'' if field.startswith('[') else '.'}{field}")


def identifier_paths(source: str, field: str) -> list[ProfilePath]:
    """The paths an identifier setting tries, in order (empty field: the source's default)."""
    if field.strip():
        return [identifier_path(source, field)]
    if source == IdentifierSource.USERINFO:
        return [identifier_path(source, name) for name in PROFILE_IDENTIFIERS]
    if source == IdentifierSource.TOKEN:
        return []  # a token answer has no standard place for the user: the field is required
    return [identifier_path(source, "sub")]


def identity_of(*, parts: dict[str, dict], snapshot: FlowSnapshot) -> Identity:
    """The participant's stable identity, from where the integration says it comes; raises
    IdPAnswerError (step `profile`, `subject_missing`).

    Automatic: the id_token's `sub` when there is an id_token (validated); otherwise the profile
    endpoint's `sub`, or the `id` / `UID` / `user_id` of a REST profile. Never the access
    token's claims unless the integration names them (they are then held to RFC 9068), and never
    an e-mail address (OIDC Core §5.7).
    """
    issuer_key = snapshot.issuer or f"integration:{snapshot.integration_id}"
    source, field = snapshot.identifier_source, snapshot.identifier_field
    if source == IdentifierSource.AUTOMATIC:
        source = IdentifierSource.ID_TOKEN if parts["id_token"] else IdentifierSource.USERINFO
        field = ""
    try:
        paths = identifier_paths(source, field)
    except PathError as exc:
        raise IdPAnswerError(
            step="profile", code="subject_missing", detail=f"unusable identifier field: {exc}"
        ) from None
    for path in paths:
        subject = _subject(path_lookup(path=path, parts=parts))
        if subject:
            return Identity(issuer_key=issuer_key, subject=subject)
    raise IdPAnswerError(step="profile", code="subject_missing", detail="no usable subject")


def _subject(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > SUBJECT_MAX_LENGTH:
        return None
    return value
