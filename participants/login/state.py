"""Single-use login state: the server-side half of a trip to the IdP.

A `LoginAttempt` holds everything the callback needs, fixed when the flow starts:

- `state` (256 random bits) is stored only as its SHA-256, so a database read does not yield a
  usable state;
- the attempt is bound to this browser by a first-party cookie holding a random value (stored
  hashed): a state minted in another browser is refused (login CSRF, RFC 9700 §4.7);
- a `nonce` when the scope has `openid`, a PKCE verifier (encrypted) when enabled;
- a snapshot of the endpoints, client id, auth method, scope, expected issuer and where the
  participant's identifier comes from, so that the
  callback talks to the IdP the flow was started with (mix-up defence, RFC 9700 §4.4.2) even if
  an administrator edits the integration meanwhile (the secret is read at callback time);
- the redirect URI it was sent with: the integration's own `/oauth/callback/<key>`, whose path
  must name the attempt's integration, or the shared `/oauth/callback` where the integration's
  issuer was verified and sends `iss` (RFC 9700 §4.4);
- the campaign page to return to.

Attempts are keyed by state, not by a session slot, so logins in several tabs coexist.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from campaigns.lookup import (
    PublishedCampaign,
    PublishedIntegration,
    public_campaign_by_id,
    published_integration,
)
from campaigns.models import Campaign
from core.statements import row_get, row_insert, rows_update
from integrations.models import IntegrationConfigurationError, OAuthIntegration
from integrations.oauth.client import pkce_pair
from integrations.oauth.snapshot import FlowSnapshot
from participants.login.failures import LoginFailure
from participants.models import AttemptOutcome, LoginAttempt

BROWSER_COOKIE = "sso_browser"
STATE_MAX_LENGTH = 512


# StateError codes for a callback URL that may not complete the attempt: its path, or its
# query's shape.
CALLBACK_PATH_REFUSALS = frozenset(
    {"callback_mismatch", "shared_callback_refused", "invalid_parameters"}
)


class StateError(LoginFailure):
    """The callback's `state` does not lead to a usable attempt. `code` names why."""

    def __init__(self, code: str, attempt: LoginAttempt | None = None) -> None:
        step = "callback" if code in CALLBACK_PATH_REFUSALS else "state"
        super().__init__(step=step, code=code, attempt=attempt)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def error_reference_new() -> str:
    """A short id shown to the participant and written to the log and the attempt."""
    return secrets.token_hex(4).upper()


# The campaign pages a participant may come back to after logging in.
RETURN_PAGES = frozenset({"landing", "form"})


def return_to_safe(value: str | None, *, default: str, campaign_slug: str | None = None) -> str:
    """`value` when it is a same-origin relative path, else `default` (never an open redirect).

    With `campaign_slug`, only that campaign's own landing or form page (with any query) is
    accepted: a login started on a campaign never ends on the admin or on another campaign.
    """
    if value == default:
        return default  # ours, safe by construction: the usual case, without resolving it
    if (
        not value
        or not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or "\\" in value
        or not url_has_allowed_host_and_scheme(value, allowed_hosts=None)
    ):
        return default
    if campaign_slug is not None and not _is_campaign_page(value, campaign_slug):
        return default
    return value


def _is_campaign_page(value: str, campaign_slug: str) -> bool:
    try:
        match = resolve(urlsplit(value).path)
    except Resolver404:
        return False
    return (
        match.namespace == "participants"
        and match.url_name in RETURN_PAGES
        and match.kwargs.get("slug") == campaign_slug
    )


def browser_value(request) -> tuple[str, bool]:
    """(this browser's binding value, whether it is new and must be set as a cookie)."""
    current = request.COOKIES.get(BROWSER_COOKIE, "")
    if 32 <= len(current) <= 100:
        return current, False
    return secrets.token_urlsafe(32), True


def browser_cookie_set(response, value: str) -> None:
    # Path "/": the cookie must reach /oauth/callback. Lax: it must survive the top-level
    # redirect back from the IdP, which is cross-site. Secure exactly when the session cookie is
    # (outside debug unless DJANGO_SECURE_COOKIES is off), like the campaign pages' cookies.
    response.set_cookie(
        BROWSER_COOKIE,
        value,
        max_age=max(settings.LOGIN_ATTEMPT_TTL_SECONDS, 3600),
        path="/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


@dataclass(frozen=True)
class StartedLogin:
    attempt: LoginAttempt
    state: str
    code_challenge: str | None
    browser_value: str
    browser_is_new: bool


def login_attempt_start(
    *,
    request,
    integration: OAuthIntegration,
    campaign: Campaign | None,
    return_to: str,
    redirect_uri: str,
    language: str = "",
    test_user=None,
    embed_session=None,
) -> StartedLogin:
    """Create the attempt for one trip to the IdP; the caller redirects and sets the cookie.

    `embed_session`: the embedded visit whose login pop-up this is (participants/embedding.py);
    the login then ends with a ticket for that frame.
    """
    browser, is_new = browser_value(request)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32) if integration.is_openid else ""
    verifier, challenge = pkce_pair() if integration.use_pkce else ("", None)
    attempt = LoginAttempt(
        state_hash=_hash(state),
        browser_hash=_hash(browser),
        account_id=integration.account_id,
        integration_id=integration.pk,
        campaign_id=campaign.pk if campaign is not None else None,
        snapshot=FlowSnapshot.of(integration, redirect_uri=redirect_uri).as_json(),
        nonce=nonce,
        code_verifier=verifier,
        return_to=return_to,
        language=language[:8],
        is_test=test_user is not None,
        test_user=test_user,
        embedded=embed_session is not None,
        embed_session=embed_session,
        expires_at=timezone.now() + timedelta(seconds=settings.LOGIN_ATTEMPT_TTL_SECONDS),
    )
    row_insert(attempt)  # as LoginAttempt.objects.create(), for a tenth of its CPU
    return StartedLogin(attempt, state, challenge, browser, is_new)


def callback_path_refusal(attempt: LoginAttempt, *, callback_key: str | None) -> str:
    """Why this callback path may not complete `attempt` ("" when it may).

    `callback_key` is the key in `/oauth/callback/<key>`, None on the shared `/oauth/callback`.
    A state arriving on another integration's path is a mix-up in progress (RFC 9700 §4.4): the
    code in the same URL was issued by the IdP that path belongs to, not by the one the attempt
    would send it to.
    """
    try:
        snapshot = FlowSnapshot.from_json(attempt.snapshot)
    except TypeError:
        return "callback_mismatch"  # a snapshot nobody can read names no path
    if callback_key is not None:
        if snapshot.shared_callback or not secrets.compare_digest(
            str(snapshot.callback_key), callback_key
        ):
            return "callback_mismatch"
        return ""
    if not snapshot.shared_callback:
        return "callback_mismatch"
    if not snapshot.shared_callback_allowed:
        return "shared_callback_refused"
    return ""


def login_attempt_claim(*, request, callback_key: str | None) -> LoginAttempt:
    """The attempt this callback belongs to, marked used; raises StateError otherwise.

    A query with a parameter given twice, or with both a code and an error, is refused before
    anything is looked up (RFC 6749 §3.1: parameters must not be repeated).

    The attempt is marked used *before* any network call, by a conditional UPDATE: of two
    concurrent callbacks with the same state, exactly one proceeds. A state that arrives on a
    path its attempt was not sent with is burnt and refused (see callback_path_refusal).
    """
    params = request.GET
    if any(len(values) > 1 for _name, values in params.lists()) or (
        "code" in params and "error" in params
    ):
        raise StateError("invalid_parameters")
    state = params.get("state", "")
    if not state or len(state) > STATE_MAX_LENGTH:
        raise StateError("state_missing")
    # state_hash is unique. The attempt alone: its integration and campaign are read from the
    # process's published copies (login_attempt_ready), which a join here would read again on
    # every callback.
    attempt = row_get(LoginAttempt, state_hash=_hash(state))
    if attempt is None:
        raise StateError("state_unknown")
    if attempt.used_at is not None:
        raise StateError("state_reused", attempt)
    now = timezone.now()
    browser = request.COOKIES.get(BROWSER_COOKIE, "")
    claimed = rows_update(LoginAttempt, {"used_at": now}, pk=attempt.pk, used_at__isnull=True)
    if not claimed:
        raise StateError("state_reused", attempt)
    attempt.used_at = now
    if refusal := callback_path_refusal(attempt, callback_key=callback_key):
        raise StateError(refusal, attempt)
    # Checked after claiming: a state that leaked to another browser is burnt either way.
    if not browser or not secrets.compare_digest(_hash(browser), attempt.browser_hash):
        raise StateError("state_other_browser", attempt)
    if attempt.expires_at <= now:
        raise StateError("state_expired", attempt)
    return attempt


@dataclass(frozen=True)
class ReadyLogin:
    """A claimed attempt that may go on: its flow's configuration, the client secret, and the
    integration and campaign as published now (campaigns/lookup.py; None for a test login's
    campaign)."""

    attempt: LoginAttempt
    snapshot: FlowSnapshot
    client_secret: str
    integration: PublishedIntegration
    campaign: PublishedCampaign | None


def login_attempt_ready(attempt: LoginAttempt) -> ReadyLogin:
    """The claimed attempt with what the rest of the callback needs; raises LoginFailure when
    the login may not go on. The client secret is read now (it may have been rotated since the
    login started).

    Platform staff's switches and the administrators' own hold at the callback too: a login
    started before the switch completes nothing, and no code reaches the token endpoint. They
    are read from the published integration, which every change of an account or an
    integration empties in every process (within `core.process_cache.TOKEN_SECONDS` for
    another process's change).
    """
    integration = published_integration(attempt.integration_id) if attempt.integration_id else None
    if integration is None or (
        integration.unavailable_for_test_login
        if attempt.is_test
        else integration.unavailable_reason
    ):
        raise LoginFailure(step="token", code="integration_unavailable", attempt=attempt)
    campaign = public_campaign_by_id(attempt.campaign_id) if attempt.campaign_id else None
    if not attempt.is_test and (campaign is None or not campaign.is_open):
        raise LoginFailure(step="token", code="campaign_unavailable", attempt=attempt)
    if attempt.embedded and not (
        attempt.embed_session is not None and attempt.embed_session.expires_at > timezone.now()
    ):
        # The frame's visit ended meanwhile: no one could redeem the ticket, spend no code.
        raise LoginFailure(step="callback", code="embed_session_expired", attempt=attempt)
    try:
        snapshot = FlowSnapshot.from_json(attempt.snapshot)
        client_secret = integration.get_client_secret()
    except (IntegrationConfigurationError, TypeError) as exc:
        raise LoginFailure(step="token", code="integration_unusable", attempt=attempt) from exc
    return ReadyLogin(attempt, snapshot, client_secret, integration, campaign)


def login_attempt_is_this_browsers(request, attempt: LoginAttempt) -> bool:
    """Was `attempt` started in the browser that sends this request?"""
    browser = request.COOKIES.get(BROWSER_COOKIE, "")
    return bool(browser) and secrets.compare_digest(_hash(browser), attempt.browser_hash)


def login_attempt_finish(
    *,
    attempt: LoginAttempt,
    outcome: str,
    failed_step: str = "",
    error_code: str = "",
    failure_kind: str = "",
    failure_class: str = "",
    warning_code: str = "",
    error_reference: str = "",
    idp_duration_ms: int | None = None,
    participant_id: int | None = None,
) -> None:
    """Record how the attempt ended, for the SSO activity log. Never tokens or codes."""
    attempt.outcome = outcome
    attempt.failed_step = failed_step[:40]
    attempt.error_code = error_code[:60]
    attempt.failure_kind = failure_kind[:30]
    attempt.failure_class = failure_class
    attempt.warning_code = warning_code[:60]
    attempt.error_reference = error_reference
    attempt.idp_duration_ms = idp_duration_ms
    attempt.participant_id = participant_id
    attempt.finished_at = timezone.now()
    fields = ["outcome", "failed_step", "error_code", "failure_kind", "failure_class"]
    fields += ["warning_code"]
    fields += ["error_reference", "idp_duration_ms"]
    fields += ["participant_id", "finished_at"]
    if outcome == AttemptOutcome.SUCCESS or attempt.code_verifier:
        # The verifier has served its purpose; do not keep it.
        attempt.code_verifier = ""
        fields.append("code_verifier")
    rows_update(LoginAttempt, {name: getattr(attempt, name) for name in fields}, pk=attempt.pk)


def login_attempts_abandon(*, request, campaign: Campaign) -> int:
    """End this browser's logins to `campaign` still on their way to the IdP ("Not you?"): a
    callback arriving later finds its attempt expired and logs nobody in."""
    browser = request.COOKIES.get(BROWSER_COOKIE, "")
    if not browser:
        return 0
    now = timezone.now()
    return LoginAttempt.objects.filter(
        browser_hash=_hash(browser),
        campaign_id=campaign.pk,
        used_at__isnull=True,
        expires_at__gt=now,
    ).update(expires_at=now)
