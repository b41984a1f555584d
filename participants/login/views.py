"""Participant SSO: the login start and the callback.

Each integration has its own callback URL, `/oauth/callback/<key>`; the shared
`/oauth/callback` serves only integrations whose issuer is verified and sends `iss`
(integrations/oauth/redirect_uri.py). The callback is four calls: claim the state
(participants/login/state.py), receive the IdP's validated answer (integrations/oauth/answer.py),
complete the login (participants/login/completion.py), redirect. Every failure ends on a page
for people (in their language, with a retry link and an error reference) and in the attempt's
log entry, which names the failing step and never holds a token, a code or a secret.
"""

import logging

from django.http import HttpResponse
from django.utils import translation
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from integrations.oauth.answer import IdPAnswerError, idp_answer_receive
from integrations.oauth.breaker import circuit_is_open
from participants.login import test_login
from participants.login.completion import (
    form_url,
    login_attempt_fail,
    login_complete,
    login_session_start,
)
from participants.login.failures import LoginFailure
from participants.login.start import (
    HttpResponseSeeOther,
    idp_redirect,
    keeps_opener,
    login_paused_page,
    login_unavailable_page,
    no_referrer,
)
from participants.login.state import (
    StateError,
    error_reference_new,
    login_attempt_claim,
    login_attempt_is_this_browsers,
    login_attempt_ready,
    return_to_safe,
)
from participants.models import AttemptOutcome
from participants.pages import (
    closed_page,
    language_activate,
    language_keep,
    published_campaign,
)
from participants.prefill import prefill_get
from participants.ratelimit import rate_limited
from participants.views_failures import failure_page

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- login start
@require_GET
@never_cache
@rate_limited("login", per=("ip", "campaign"), campaign=lambda request, slug: slug)
def login_start(request, slug: str):
    """Send the participant to their IdP; `?next=` is where they come back to (same site)."""
    campaign = published_campaign(slug)
    language = language_activate(request, campaign)
    if (closed := closed_page(request, campaign)) is not None:
        return closed
    integration = campaign.login_integration
    if integration is None:
        return login_unavailable_page(request, campaign)
    if circuit_is_open(integration_id=integration.pk):
        # The IdP keeps failing: do not send the participant on a trip that cannot end well.
        return login_paused_page(request, campaign)
    return_to = return_to_safe(
        request.GET.get("next"), default=form_url(campaign), campaign_slug=campaign.slug
    )
    redirect = idp_redirect(
        request, integration=integration, campaign=campaign, return_to=return_to, language=language
    )
    if redirect is None:
        return login_unavailable_page(request, campaign)
    # A login link followed straight from the customer's site (`?lang=fr`) comes back to the
    # form in that language, as a page opened with it would.
    return language_keep(request, redirect)


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
    attempt = None
    try:
        attempt = login_attempt_claim(request=request, callback_key=key)
        ready = login_attempt_ready(attempt)
        answer = idp_answer_receive(
            snapshot=ready.snapshot,
            params=request.GET,
            client_secret=ready.client_secret,
            code_verifier=attempt.code_verifier,
            nonce=attempt.nonce,
        )
        if attempt.is_test:
            return test_login.test_login_succeeded(request, attempt, answer)
        login = login_complete(ready=ready, answer=answer)
    except IdPAnswerError as error:
        return _failed(request, LoginFailure.from_answer(error, attempt=attempt), reference)
    except LoginFailure as failure:
        return _failed(request, failure, reference)
    logger.info(
        "sso login succeeded: attempt=%s integration=%s", attempt.pk, attempt.integration_id
    )
    response = no_referrer(HttpResponseSeeOther(login_session_start(request, login)))
    return keeps_opener(response) if attempt.embedded else response


def _failed(request, failure: LoginFailure, reference: str) -> HttpResponse:
    """Record the failure and show it: the participant's page, or the test login's result."""
    attempt = failure.attempt
    if isinstance(failure, StateError) and (back := _back_to_the_prefilled_form(request, failure)):
        return back
    logger.warning(
        "sso login failed: step=%s error=%s ref=%s attempt=%s integration=%s detail=%s",
        failure.step,
        failure.code,
        reference,
        attempt.pk if attempt else "-",
        attempt.integration_id if attempt else "-",
        failure.detail or "-",
    )
    if attempt is not None and failure.code != "state_reused":
        login_attempt_fail(failure, reference=reference)
    if attempt is not None and attempt.is_test and not isinstance(failure, StateError):
        return test_login.test_login_failed(request, attempt, failure)
    campaign = attempt.campaign if attempt is not None else None
    if campaign is not None:
        translation.activate(attempt.language or campaign.offered_languages[0])
        request.LANGUAGE_CODE = translation.get_language()
    return failure_page(
        request,
        kind=failure.kind,
        reference=reference,
        campaign=campaign,
        return_to=attempt.return_to if attempt is not None else "",
        missing=failure.missing,
        # In the login pop-up of an embedded campaign: the frame offers to log in again.
        in_popup=attempt is not None and attempt.embedded,
        retry_after=failure.retry_after,
    )


def _back_to_the_prefilled_form(request, failure: StateError) -> HttpResponse | None:
    """A participant who went back to the IdP's consent page after logging in and allowed
    again sends the spent state once more: when that login worked in this browser and its
    prefill is still here, they go back to their form instead of an error."""
    attempt = failure.attempt
    if (
        failure.code != "state_reused"
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
        attempt.return_to, default=form_url(attempt.campaign), campaign_slug=attempt.campaign.slug
    )
    return no_referrer(HttpResponseSeeOther(target))
