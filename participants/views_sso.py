"""Participant SSO: the login start and the callback.

Each integration has its own callback URL, `/oauth/callback/<key>`; the shared `/oauth/callback`
serves only integrations whose issuer is verified and sends `iss` (integrations/callback.py).
The callback reads top to bottom: repeated parameters → state and its callback path → issuer →
error answer → token → id_token → profile → mapping → participant → session → prefill. Every
failure ends on a page for people (in their language, with a retry link and an error reference)
and in the attempt's log entry, which names the failing step and never holds a token, a code or
a secret.
"""

import json
import logging
import time

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_GET

from accounts.permissions import Capability, can
from campaigns.models import Campaign, SSOMode
from integrations.breaker import (
    Admission,
    circuit_admit,
    circuit_failure,
    circuit_is_open,
    circuit_success,
    circuit_trial_abandon,
)
from integrations.bulkhead import IdPBusyError, idp_call_slot
from integrations.callback import callback_url
from integrations.models import IdentifierSource, IntegrationConfigurationError, OAuthIntegration
from integrations.oauth import ClientConfig, OAuthError, authorization_url, exchange_code
from integrations.oauth import fetch_profile as oauth_fetch_profile
from integrations.sign_in_alerts import sign_in_alert_clear
from integrations.tokens import (
    KeySource,
    TokenError,
    access_token_claims,
    access_token_validate,
    id_token_validate,
    tls_stands_in_for_signatures,
)

from .embedding import embed_ticket_issue, embed_ticket_keep
from .identity import remembered_login_set
from .models import AttemptOutcome, LoginAttempt
from .prefill import prefill_get, prefill_set
from .ratelimit import rate_limited
from .session import (
    CALLBACK_PATH_REFUSALS,
    StateError,
    browser_cookie_set,
    error_reference_new,
    login_attempt_claim,
    login_attempt_finish,
    login_attempt_is_this_browsers,
    login_attempt_start,
    return_to_safe,
)
from .sign_in_health import sign_in_failure_noted
from .sso import (
    IdentityError,
    identity_of,
    participant_upsert,
    profile_map,
    profile_parts,
    profile_redact,
    userinfo_matches,
)
from .sso_failures import (
    ERROR_CODE,
    RETRYABLE_IDP_ERRORS,
    FlowError,
    oauth_failure_kind,
)
from .views import _activate_language, _campaign, _closed_page, _page
from .views_failures import failure_page

logger = logging.getLogger(__name__)


class _HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


# Retry-After of the page a login gets when its integration's IdP calls are at their cap.
IDP_BUSY_RETRY_AFTER_SECONDS = 5
# Calls one login may make to the IdP: token, JWKS (and its refetch on an unknown key), profile;
# each ends within the integration's connect + read timeout. Plus a margin for our own work.
_IDP_CALLS_PER_LOGIN = 4
_MARGIN_SECONDS = 5


# ---------------------------------------------------------------------------- helpers
def _no_referrer(response: HttpResponse) -> HttpResponse:
    # The callback URL holds a code and a state; nothing may leak them onwards (RFC 9700 §4.2.4).
    response["Referrer-Policy"] = "no-referrer"
    return response


def keeps_opener(response: HttpResponse) -> HttpResponse:
    """For the answers an embedded campaign's login pop-up gets on its way back to the frame
    that opened it, redirects included: browsers cut a window off from its opener when one of
    them says Cross-Origin-Opener-Policy same-origin, as every other page of ours does."""
    response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    return response


def _form_url(campaign: Campaign) -> str:
    return reverse("participants:form", args=[campaign.slug])


def _failure_page(
    request,
    *,
    kind: str,
    reference: str,
    attempt: LoginAttempt | None = None,
    missing: list[str] | None = None,
    retry_after: int | None = None,
) -> HttpResponse:
    campaign = attempt.campaign if attempt is not None else None
    if campaign is not None:
        translation.activate(attempt.language or campaign.offered_languages[0])
        request.LANGUAGE_CODE = translation.get_language()
    return failure_page(
        request,
        kind=kind,
        reference=reference,
        campaign=campaign,
        return_to=attempt.return_to if attempt is not None else "",
        missing=missing,
        # In the login pop-up of an embedded campaign: the frame offers to log in again.
        in_popup=attempt is not None and attempt.embedded,
        retry_after=retry_after,
    )


def _log_failure(attempt: LoginAttempt | None, error: FlowError, reference: str) -> None:
    logger.warning(
        "sso login failed: step=%s error=%s ref=%s attempt=%s integration=%s detail=%s",
        error.step,
        error.code,
        reference,
        attempt.pk if attempt else "-",
        attempt.integration_id if attempt else "-",
        error.detail or "-",
    )


def _repeated_parameter(request) -> bool:
    return any(len(values) > 1 for _name, values in request.GET.lists())


# ---------------------------------------------------------------------------- login start
@require_GET
@never_cache
@rate_limited("login", per=("ip", "campaign"), campaign=lambda request, slug: slug)
def login_start(request, slug: str):
    """Send the participant to their IdP; `?next=` is where they come back to (same site)."""
    campaign = _campaign(slug)
    language = _activate_language(request, campaign)
    if (closed := _closed_page(request, campaign)) is not None:
        return closed
    integration = campaign.login_integration
    if integration is None:
        return _unavailable(request, campaign)
    if circuit_is_open(integration_id=integration.pk):
        # The IdP keeps failing: do not send the participant on a trip that cannot end well.
        return _login_paused(request, campaign)
    return_to = return_to_safe(
        request.GET.get("next"), default=_form_url(campaign), campaign_slug=campaign.slug
    )
    return _redirect_to_idp(
        request, integration=integration, campaign=campaign, return_to=return_to, language=language
    ) or _unavailable(request, campaign)


def _unavailable(request, campaign: Campaign) -> HttpResponse:
    context = {"campaign": campaign}
    return _page(request, "participants/login_unavailable.html", context, status=503)


def _login_paused(request, campaign: Campaign) -> HttpResponse:
    context = {"campaign": campaign, "retry_after_seconds": settings.IDP_BREAKER_OPEN_SECONDS}
    if campaign.sso_mode == SSOMode.OPTIONAL:
        context["manual_url"] = _form_url(campaign)
    response = _page(request, "participants/login_paused.html", context, status=503)
    response["Retry-After"] = str(settings.IDP_BREAKER_OPEN_SECONDS)
    return response


def _redirect_to_idp(
    request, *, integration, campaign, return_to, language, test_user=None, embed_session=None
):
    """The redirect to the authorization endpoint, or None when the integration is unusable."""
    try:
        config = ClientConfig.from_integration(integration)
    except (IntegrationConfigurationError, ValueError):
        logger.warning("sso login start refused: integration=%s unusable", integration.pk)
        return None
    started = login_attempt_start(
        request=request,
        integration=integration,
        campaign=campaign,
        return_to=return_to,
        language=language,
        redirect_uri=callback_url(integration),
        test_user=test_user,
        embed_session=embed_session,
    )
    try:
        url = authorization_url(
            config,
            redirect_uri=callback_url(integration),
            state=started.state,
            nonce=started.attempt.nonce or None,
            code_challenge=started.code_challenge,
        )
    except OAuthError:
        logger.warning("sso login start refused: integration=%s endpoint", integration.pk)
        return None
    response = HttpResponseRedirect(url)
    if started.browser_is_new:
        browser_cookie_set(response, started.browser_value)
    return _no_referrer(response)


# ---------------------------------------------------------------------------- callback
@require_GET
@never_cache
# Per address only: the campaign is known only once the state is looked up.
@rate_limited("login", per=("ip",))
def oauth_callback(request, key: str | None = None):
    """The authorization response (RFC 6749 §4.1.2). GET only: POST answers 405.

    `key` is the integration's callback key from `/oauth/callback/<key>`; None on the shared
    `/oauth/callback`.
    """
    reference = error_reference_new()
    params = request.GET
    if _repeated_parameter(request) or ("code" in params and "error" in params):
        error = FlowError("repeated_parameters", step="callback", code="invalid_parameters")
        _log_failure(None, error, reference)
        return _failure_page(request, kind=error.kind, reference=reference)
    try:
        attempt = login_attempt_claim(
            request=request, state=params.get("state", ""), callback_key=key
        )
    except StateError as exc:
        if (back := _back_to_the_prefilled_form(request, exc)) is not None:
            return back
        step = "callback" if exc.code in CALLBACK_PATH_REFUSALS else "state"
        error = FlowError(exc.code, step=step, code=exc.code)
        attempt = exc.attempt
        _log_failure(attempt, error, reference)
        if attempt is not None and exc.code != "state_reused":
            _finish_failed(attempt, error, reference, idp_ms=None)
        return _failure_page(request, kind=error.kind, reference=reference, attempt=attempt)

    started = time.monotonic()
    trace = {"ms": 0}
    try:
        result = _complete(request, attempt, trace)
    except FlowError as error:
        idp_ms = trace["ms"] or None
        _log_failure(attempt, error, reference)
        _finish_failed(attempt, error, reference, idp_ms=idp_ms)
        if attempt.is_test:
            return _test_result_redirect(request, attempt, error=error)
        return _failure_page(
            request,
            kind=error.kind,
            reference=reference,
            attempt=attempt,
            missing=error.missing,
            retry_after=error.retry_after,
        )
    logger.info(
        "sso login succeeded: attempt=%s integration=%s ms=%d",
        attempt.pk,
        attempt.integration_id,
        int((time.monotonic() - started) * 1000),
    )
    return result


def _back_to_the_prefilled_form(request, exc: StateError) -> HttpResponse | None:
    """A participant who went back to the IdP's consent page after logging in and allowed
    again sends the spent state once more: when that login worked in this browser and its
    prefill is still here, they go back to their form instead of an error."""
    attempt = exc.attempt
    if (
        exc.code != "state_reused"
        or attempt is None
        or attempt.is_test
        or attempt.outcome != AttemptOutcome.SUCCESS
        or attempt.campaign is None
        or not login_attempt_is_this_browsers(request, attempt)
    ):
        return None
    prefill = prefill_get(request, attempt.campaign)
    if prefill is None or prefill.participant_id != attempt.participant_id:
        return None
    target = return_to_safe(
        attempt.return_to, default=_form_url(attempt.campaign), campaign_slug=attempt.campaign.slug
    )
    return _no_referrer(_HttpResponseSeeOther(target))


def _finish_failed(attempt, error: FlowError, reference: str, *, idp_ms) -> None:
    login_attempt_finish(
        attempt=attempt,
        outcome=AttemptOutcome.FAILED,
        failed_step=error.step,
        error_code=error.code,
        failure_kind=error.kind,
        error_reference=reference,
        idp_duration_ms=idp_ms,
    )
    sign_in_failure_noted(
        attempt,
        kind=error.kind,
        code=error.code,
        step=error.step,
        reference=reference,
        circuit_opened=error.circuit_opened,
    )


# Kept out of error reports and debug pages should anything unexpected fail here.
@sensitive_variables("config", "code", "params")
def _complete(request, attempt: LoginAttempt, trace: dict) -> HttpResponse:
    """Everything after the state check; raises FlowError."""
    snapshot = attempt.snapshot
    params = request.GET

    # Mix-up defence (RFC 9207 §2.4): checked before trusting even an error answer.
    expected_issuer = snapshot.get("issuer", "")
    iss = params.get("iss")
    if iss is not None and iss != expected_issuer:
        raise FlowError("issuer_mismatch", step="authorize", code="iss_mismatch")
    # On the shared callback URL, `iss` is what tells one IdP's answer from another's: required.
    if iss is None and (snapshot.get("iss_parameter_supported") or snapshot.get("shared_callback")):
        raise FlowError("issuer_mismatch", step="authorize", code="iss_missing")

    if "error" in params:
        error = params.get("error", "")
        # Only a plain RFC 6749 error code is recorded; anything else is the IdP's free text.
        code = error if ERROR_CODE.fullmatch(error) else "invalid"
        if code == "access_denied":
            kind = "access_denied"
        elif code in RETRYABLE_IDP_ERRORS:
            kind = "idp_unavailable"
        else:
            kind = "idp_configuration"
        # error_description is the IdP's free text: neither shown nor logged.
        raise FlowError(kind, step="authorize", code=f"idp_{code}")
    code = params.get("code", "")
    if not code or len(code) > 2048:
        raise FlowError("idp_configuration", step="authorize", code="code_missing")

    integration = attempt.integration
    # Platform staff's switches and the administrators' own hold at the callback too: a login
    # started before the switch completes nothing, and no code reaches the token endpoint.
    if integration is None or integration.unavailable_reason(test_login=attempt.is_test):
        raise FlowError("integration_unavailable", step="token", code="integration_unavailable")
    if not attempt.is_test and (attempt.campaign is None or not attempt.campaign.is_open):
        raise FlowError("integration_unavailable", step="token", code="campaign_unavailable")
    if attempt.embedded and not _embed_session_alive(attempt):
        # The frame's visit ended meanwhile: no one could redeem the ticket, spend no code.
        raise FlowError("state_expired", step="callback", code="embed_session_expired")
    try:
        # The flow's own snapshot, with the secret read now (it may have been rotated).
        config = ClientConfig(
            client_id=snapshot["client_id"],
            client_secret=integration.get_client_secret(),
            authorization_endpoint=snapshot["authorization_endpoint"],
            token_endpoint=snapshot["token_endpoint"],
            auth_method=snapshot["auth_method"],
            scope=snapshot.get("scope", ""),
            profile_endpoint=snapshot.get("profile_endpoint", ""),
            connect_timeout=snapshot.get("connect_timeout", 5.0),
            read_timeout=snapshot.get("read_timeout", 10.0),
        )
    except (IntegrationConfigurationError, KeyError, ValueError) as exc:
        raise FlowError(
            "integration_unavailable", step="token", code="integration_unusable"
        ) from exc
    keys = (
        KeySource(
            jwks_uri=snapshot["jwks_uri"],
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
        )
        if snapshot.get("jwks_uri")
        else None
    )

    parts = _profile_guarded(attempt, config, keys, code=code, trace=trace)
    try:
        identity = identity_of(
            parts=parts,
            issuer=expected_issuer,
            integration_id=snapshot["integration_id"],
            source=snapshot.get("identifier_source", IdentifierSource.AUTOMATIC),
            field=snapshot.get("identifier_field", ""),
        )
    except IdentityError as exc:
        raise FlowError("profile_failed", step="profile", code="subject_missing") from exc
    mapped = profile_map(parts=parts, integration=integration)

    if attempt.is_test:
        redacted = profile_redact(parts)
        integration.last_test_profile = _json(redacted)
        integration.save(update_fields=["last_test_profile"])
        login_attempt_finish(
            attempt=attempt,
            outcome=AttemptOutcome.SUCCESS,
            idp_duration_ms=trace["ms"],
            warning_code=trace.get("warning", ""),
        )
        # The administrator's own test proves the settings work: any sign-in alert is over.
        sign_in_alert_clear(integration)
        return _test_result_redirect(request, attempt, profile=redacted, mapped=mapped)

    if mapped.missing_required:
        error = FlowError("mapping_incomplete", step="mapping", code="required_missing")
        error.missing = mapped.missing_required
        raise error

    participant_id = participant_upsert(integration=integration, identity=identity)
    login_attempt_finish(
        attempt=attempt,
        outcome=AttemptOutcome.SUCCESS,
        idp_duration_ms=trace["ms"],
        warning_code=trace.get("warning", ""),
        participant_id=participant_id,
    )
    sign_in_alert_clear(integration)
    if attempt.embedded:
        return _embedded_login_finish(request, attempt, participant_id, mapped, integration)
    # A new session key: a session id planted before the login gains nothing (fixation). A
    # browser without a session cookie has nothing to fix; its session is created once, when
    # the response is sent (cycling it would write it twice: 4 queries of the callback's 17).
    if request.session.session_key is not None:
        request.session.cycle_key()
    prefill_set(
        request,
        attempt.campaign,
        participant_id=participant_id,
        values=mapped.values,
        integration_name=integration.display_name,
        targets=mapped.targets,
    )
    # For a while, another campaign of this integration offers "Continue as" in this browser.
    remembered_login_set(
        request, integration=integration, participant_id=participant_id, parts=parts
    )
    target = return_to_safe(
        attempt.return_to, default=_form_url(attempt.campaign), campaign_slug=attempt.campaign.slug
    )
    return _no_referrer(_HttpResponseSeeOther(target))


def _embed_session_alive(attempt: LoginAttempt) -> bool:
    visit = attempt.embed_session
    return visit is not None and visit.expires_at > timezone.now()


def _embedded_login_finish(request, attempt, participant_id, mapped, integration) -> HttpResponse:
    """End a login made in an embedded campaign's pop-up: a ticket for the frame, kept in the
    pop-up's own session for its last page, which hands it over (participants/embedding.py).

    Nothing of the login stays in this first-party session otherwise (no prefill, no "Continue
    as"): the participant is in the frame, where "Not you?" must be able to forget it all.
    """
    if request.session.session_key is not None:
        request.session.cycle_key()
    ticket = embed_ticket_issue(
        attempt=attempt,
        participant_id=participant_id,
        values=mapped.values,
        targets=mapped.targets,
        integration_name=integration.display_name,
    )
    embed_ticket_keep(request, campaign=attempt.campaign, ticket=ticket)
    done = reverse("participants:embed_login_done", args=[attempt.campaign.slug])
    query = {"lang": attempt.language} if attempt.language else {}
    response = _HttpResponseSeeOther(f"{done}?{urlencode(query)}" if query else done)
    return keeps_opener(_no_referrer(response))


@sensitive_variables("config", "code")
def _profile_guarded(attempt, config, keys, *, code: str, trace: dict) -> dict[str, dict]:
    """`_profile` behind the integration's circuit breaker and bulkhead: a login never calls an
    IdP whose circuit is open (or half-open with its trial under way), nor one that already has
    IDP_MAX_CONCURRENT_CALLS logins waiting on it (integrations/bulkhead.py says when a login
    waits a moment for a slot). Both end on a 503 with a Retry-After, without calling it."""
    integration_id = attempt.snapshot["integration_id"]
    admission = circuit_admit(
        integration_id=integration_id, trial_seconds=config.total_timeout + _MARGIN_SECONDS
    )
    if admission is Admission.OPEN:
        raise FlowError(
            "idp_unavailable",
            step="token",
            code="circuit_open",
            retry_after=settings.IDP_BREAKER_OPEN_SECONDS,
        )
    try:
        with idp_call_slot(
            integration_id=integration_id,
            hold_seconds=_IDP_CALLS_PER_LOGIN * config.total_timeout + _MARGIN_SECONDS,
        ):
            return _profile(
                attempt, config, keys, code=code, trace=trace, trial=admission is Admission.TRIAL
            )
    except IdPBusyError as exc:
        if admission is Admission.TRIAL:
            circuit_trial_abandon(integration_id=integration_id)
        raise FlowError(
            "idp_unavailable",
            step="token",
            code="idp_busy",
            retry_after=IDP_BUSY_RETRY_AFTER_SECONDS,
        ) from exc


@sensitive_variables("config", "code", "tokens", "id_token", "access_token")
def _profile(attempt, config, keys, *, code: str, trace: dict, trial: bool) -> dict[str, dict]:
    """Token, id_token, access token claims and userinfo, as the mapping's profile parts."""
    snapshot = attempt.snapshot
    started = time.monotonic()
    try:
        try:
            tokens = exchange_code(
                config,
                code=code,
                redirect_uri=snapshot["redirect_uri"],
                code_verifier=attempt.code_verifier or None,
            )
        except OAuthError as exc:
            error = FlowError(oauth_failure_kind(exc), step="token", code=exc.code)
            if exc.retryable and exc.code != "invalid_grant":
                # Timeouts, refused connections, 5xx: the IdP, not this participant (RF-04).
                error.circuit_opened = circuit_failure(integration_id=snapshot["integration_id"])
            else:
                # It answered (a refused code, a configuration problem): it is up.
                circuit_success(integration_id=snapshot["integration_id"], trial=trial)
            raise error from exc
        circuit_success(integration_id=snapshot["integration_id"], trial=trial)

        id_claims = None
        id_token = tokens.get("id_token")
        if id_token is None and attempt.nonce:
            # We asked for OpenID Connect: without an id_token the nonce protects nothing.
            raise FlowError("id_token_invalid", step="id_token", code="id_token_missing")
        if id_token is not None:
            try:
                id_claims = id_token_validate(
                    token=id_token,
                    source=keys,
                    issuer=snapshot.get("issuer", ""),
                    client_id=config.client_id,
                    nonce=attempt.nonce or None,
                    # Read just now from the token endpoint's own answer: without any keys,
                    # TLS may vouch for it instead of a signature (OIDC Core §3.1.3.7 (6)).
                    unsigned_over_tls=tls_stands_in_for_signatures(config.token_endpoint),
                )
            except TokenError as exc:
                raise _token_failure(exc, step="id_token") from exc
        access_token = tokens.get("access_token")
        at_claims = None
        if snapshot.get("identifier_source") == IdentifierSource.ACCESS_TOKEN:
            # It names the participant: held to RFC 9068 §4, and the login fails without it.
            try:
                at_claims = access_token_validate(
                    token=access_token,
                    source=keys,
                    issuer=snapshot.get("issuer", ""),
                    client_id=config.client_id,
                )
            except TokenError as exc:
                raise _token_failure(exc, step="access_token") from exc
        elif access_token:
            at_claims = access_token_claims(
                token=access_token, source=keys, issuer=snapshot.get("issuer", "")
            )

        userinfo = None
        if config.profile_endpoint and access_token:
            try:
                userinfo = oauth_fetch_profile(config, access_token=access_token)
            except OAuthError as exc:
                if id_claims is None:
                    # The profile endpoint is the only source of identity: nothing to go on.
                    raise FlowError("profile_failed", step="userinfo", code=exc.code) from exc
                # Policy (UI-03): carry on with the id_token's claims alone, and say so in
                # the activity log (counted per integration above its list).
                logger.warning("sso userinfo failed, continuing: error=%s", exc.code)
                trace["warning"] = exc.code
            if userinfo is not None and not userinfo_matches(
                id_token_claims=id_claims, userinfo=userinfo
            ):
                logger.warning(
                    "sso userinfo discarded: sub differs from the id_token (attempt=%s)",
                    attempt.pk,
                )
                trace["warning"] = "userinfo_sub_mismatch"
                userinfo = None
    finally:
        trace["ms"] = int((time.monotonic() - started) * 1000)
    return profile_parts(
        token_response=tokens,
        id_token_claims=id_claims,
        access_token_claims=at_claims,
        userinfo=userinfo,
    )


def _token_failure(exc: TokenError, *, step: str) -> FlowError:
    kind = "idp_unavailable" if exc.code == "jwks_unavailable" else "id_token_invalid"
    return FlowError(kind, step=step, code=exc.code, detail=exc.detail)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


# ---------------------------------------------------------------------------- test login
def _test_session_key(attempt: LoginAttempt) -> str:
    return f"sso_test:{attempt.pk}"


def _test_result_redirect(request, attempt, *, profile=None, mapped=None, error=None):
    request.session[_test_session_key(attempt)] = {
        "profile": profile,
        "values": mapped.values if mapped else {},
        "missing": mapped.missing_required if mapped else [],
        "problems": mapped.problems if mapped else [],
        "error": {"step": error.step, "code": error.code, "detail": error.detail}
        if error
        else None,
    }
    url = reverse("participants:test_login_result", args=[attempt.pk])
    return _no_referrer(_HttpResponseSeeOther(url))


@require_GET
@never_cache
@staff_member_required
def test_login_start(request, integration_id: int):
    """Run the real login flow as an administrator; it ends on `test_login_result`."""
    integration = get_object_or_404(
        OAuthIntegration.objects.select_related("account"), pk=integration_id
    )
    if not can(request.user, Capability.MANAGE_OAUTH, integration.account):
        raise Http404
    reason = integration.unavailable_reason(test_login=True)
    response = None
    if not reason:
        response = _redirect_to_idp(
            request,
            integration=integration,
            campaign=None,
            return_to="",
            language=translation.get_language() or "",
            test_user=request.user,
        )
    if response is None:
        return render(
            request,
            "participants/test_login_result.html",
            {
                **admin.site.each_context(request),
                "integration": integration,
                "unusable": True,
                "unusable_reason": reason,
                "title": _("Test login"),
            },
            status=409,
        )
    return response


@require_GET
@never_cache
@staff_member_required
def test_login_result(request, attempt_id: int):
    attempt = get_object_or_404(
        LoginAttempt.objects.select_related("integration"),
        pk=attempt_id,
        is_test=True,
        test_user=request.user,
    )
    integration = attempt.integration
    if integration is None or not can(request.user, Capability.MANAGE_OAUTH, integration.account):
        raise Http404
    result = request.session.get(_test_session_key(attempt))
    if result is None:
        raise Http404
    context = {
        # The admin's header, user tools and sidebar: this page is part of the admin.
        **admin.site.each_context(request),
        "title": _("Test login"),
        "integration": integration,
        "attempt": attempt,
        "result": result,
        "profile_json": _pretty(result["profile"]) if result.get("profile") else "",
    }
    return _no_referrer(render(request, "participants/test_login_result.html", context))


def _pretty(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)
