"""Completing a participant's login with the IdP's validated answer
(integrations/oauth/answer.py), and recording a failed one.

- `login_complete()` maps the profile, creates or updates the participant and records the
  attempt's success, in one transaction; the sign-in alert ends there too;
- `login_session_start()` then gives this browser the login: a new session key, the campaign's
  prefill and "Continue as" (or, in an embedded campaign's pop-up, a ticket for the frame);
- `login_attempt_fail()` records a failure, its class from the failure catalogue, and raises the
  integration's sign-in alert when the catalogue says the administrators must act;
"""

from dataclasses import dataclass

from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from campaigns.lookup import PublishedCampaign, PublishedIntegration
from campaigns.models import Campaign
from core.statements import row_insert
from integrations.models import OAuthIntegration
from integrations.oauth.alerts import sign_in_alert_clear, sign_in_alert_raise
from integrations.oauth.answer import Identity, IdPAnswer
from participants.embedding import embed_ticket_issue, embed_ticket_keep
from participants.login.failures import LoginFailure, advice_for
from participants.login.profile import MappedProfile, profile_map
from participants.login.remembered import remembered_login_set
from participants.login.state import ReadyLogin, login_attempt_finish, return_to_safe
from participants.models import AttemptOutcome, LoginAttempt, Participant
from participants.pages import campaign_url
from participants.prefill import prefill_set


@dataclass(frozen=True)
class CompletedLogin:
    attempt: LoginAttempt
    integration: PublishedIntegration
    campaign: PublishedCampaign
    participant_id: int
    mapped: MappedProfile
    answer: IdPAnswer


# ---------------------------------------------------------------------------- success
def login_complete(*, ready: ReadyLogin, answer: IdPAnswer) -> CompletedLogin:
    """The participant's side of a login the IdP vouched for; raises LoginFailure when the
    mapping lacks a value it requires (nothing is then stored but the failed attempt)."""
    attempt, integration = ready.attempt, ready.integration
    mapped = profile_map(parts=answer.parts, integration=integration)
    if mapped.missing_required:
        raise LoginFailure(
            step="mapping",
            code="required_missing",
            attempt=attempt,
            missing=mapped.missing_required,
            idp_ms=answer.idp_ms,
        )
    # No savepoint when a caller's transaction is open already: one transaction, no more.
    with transaction.atomic(savepoint=False):
        participant_id = participant_upsert(integration=integration, identity=answer.identity)
        login_attempt_succeed(attempt=attempt, answer=answer, participant_id=participant_id)
    return CompletedLogin(attempt, integration, ready.campaign, participant_id, mapped, answer)


def login_attempt_succeed(
    *, attempt: LoginAttempt, answer: IdPAnswer, participant_id: int | None = None
) -> None:
    """Record that the IdP vouched for this login (a test login too): the integration works,
    so its sign-in alert, if any, is over."""
    login_attempt_finish(
        attempt=attempt,
        outcome=AttemptOutcome.SUCCESS,
        idp_duration_ms=answer.idp_ms,
        warning_code=answer.warning,
        participant_id=participant_id,
    )
    sign_in_alert_clear(integration_id=attempt.integration_id)


def login_session_start(request, login: CompletedLogin) -> str:
    """Give this browser the login; returns where the participant goes next.

    A new session key: a session id planted before the login gains nothing (fixation). A
    browser without a session cookie has nothing to fix; its session is created once, when the
    response is sent (cycling it would write it twice).
    """
    attempt, campaign, integration = login.attempt, login.campaign, login.integration
    if request.session.session_key is not None:
        request.session.cycle_key()
    if attempt.embedded:
        return _embedded_login_start(request, login)
    prefill_set(
        request,
        campaign,
        participant_id=login.participant_id,
        values=login.mapped.values,
        integration_name=integration.display_name,
        targets=login.mapped.targets,
    )
    # For a while, another campaign of this integration offers "Continue as" in this browser.
    remembered_login_set(
        request,
        integration=integration,
        participant_id=login.participant_id,
        parts=login.answer.parts,
    )
    return return_to_safe(
        attempt.return_to, default=form_url(campaign), campaign_slug=campaign.slug
    )


def _embedded_login_start(request, login: CompletedLogin) -> str:
    """A login made in an embedded campaign's pop-up ends with a ticket for the frame, kept in
    the pop-up's own session for its last page, which hands it over (participants/embedding.py).

    Nothing of the login stays in this first-party session otherwise (no prefill, no "Continue
    as"): the participant is in the frame, where "Not you?" must be able to forget it all.
    """
    attempt = login.attempt
    ticket = embed_ticket_issue(
        attempt=attempt,
        participant_id=login.participant_id,
        values=login.mapped.values,
        targets=login.mapped.targets,
        integration_name=login.integration.display_name,
    )
    embed_ticket_keep(request, campaign=login.campaign, ticket=ticket)
    done = reverse("participants:embed_login_done", args=[login.campaign.slug])
    return f"{done}?{urlencode({'lang': attempt.language})}" if attempt.language else done


def form_url(campaign: Campaign) -> str:
    return campaign_url("form", campaign)


# ---------------------------------------------------------------------------- failure
def login_attempt_fail(failure: LoginFailure, *, reference: str) -> None:
    """Record how `failure.attempt` failed; raise its integration's sign-in alert when the
    administrators must act (or its IdP's circuit breaker just opened)."""
    attempt = failure.attempt
    login_attempt_finish(
        attempt=attempt,
        outcome=AttemptOutcome.FAILED,
        failed_step=failure.step,
        error_code=failure.code,
        failure_kind=failure.kind,
        failure_class=failure.klass,
        error_reference=reference,
        idp_duration_ms=failure.idp_ms,
    )
    if failure.raises_alert:
        sign_in_alert_raise(
            integration_id=attempt.integration_id,
            error_code=failure.alert_code,
            reference=reference,
            advice=advice_for(failure.alert_code),
        )


# ---------------------------------------------------------------------------- participant
def participant_upsert(
    *, integration: OAuthIntegration | PublishedIntegration, identity: Identity
) -> int:
    """Create or update the participant known by `identity`; returns their id.

    One `INSERT … ON CONFLICT (account, issuer, subject) DO UPDATE` (PostgreSQL, SQLite): two
    first logins of the same person at once still make one participant, without the lock,
    read and savepoint a `get_or_create` takes. Through core/statements.py: what
    `bulk_create(update_conflicts=True)` sends, for a tenth of its CPU.
    """
    participant = Participant(
        account_id=integration.account_id,
        integration_id=integration.pk,
        issuer_key=identity.issuer_key,
        subject=identity.subject,
        last_login_at=timezone.now(),
    )
    row_insert(
        participant,
        conflict=("account", "issuer_key", "subject"),
        update=("integration", "last_login_at"),
    )
    return participant.pk
