"""Erasing one participant's data, on an account Administrator's (or staff's) request.

`participant_erasure_plan` says what would go, for the confirmation page; `participant_erase`
deletes it in one transaction: the participations, the login attempts, the webhook deliveries
about them (not sent yet: never sent; sent: out of the delivery log), the remembered logins and
the participant. What remains is a `ParticipantErasure` record without personal data, and a
`participant.erased` event for the account's endpoints subscribed to it, so that the customer
erases them on their side too.

A prefill still in the participant's own browser session names a participant who no longer
exists: the campaign form ignores it (participants/views.py) and it expires with the session.
The participant's embedded visits and login tickets (participants/embedding.py), which hold
their IdP values, go with the participant's row.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from integrations.webhooks.outbox import webhook_participant_erased_record
from participants.models import (
    LoginAttempt,
    Participant,
    ParticipantErasure,
    Participation,
    RememberedLogin,
)


def participants_find(queryset: QuerySet[Participant], term: str) -> QuerySet[Participant]:
    """The participants in `queryset` with this IdP subject (exactly), or whose participations
    hold this e-mail address (as submitted, or as the IdP gave it; any case)."""
    term = term.strip()
    if not term:
        return queryset
    by_email = Participation.objects.filter(
        Q(values__email__iexact=term) | Q(prefilled__email__iexact=term),
        participant__isnull=False,
    ).values("participant_id")
    return queryset.filter(Q(subject=term) | Q(pk__in=by_email))


def _deliveries_about(participant: Participant) -> QuerySet[WebhookDelivery]:
    """The account's webhook deliveries whose payload names the participant."""
    return WebhookDelivery.objects.filter(
        endpoint__account_id=participant.account_id,
        payload__data__participant__subject=participant.subject,
        payload__data__participant__issuer=participant.issuer_key,
    )


@dataclass(frozen=True)
class ErasurePlan:
    participant: Participant
    participations: list[Participation]
    login_attempts: int
    # Webhook deliveries about them not delivered (pending, or failed and resendable): they
    # will never be sent; and delivered ones, whose payloads leave the delivery log.
    undelivered_events: int
    delivered_events: int
    remembered_logins: int
    # The account's endpoints that will be told (participant.erased).
    endpoints_told: int


def participant_erasure_plan(*, participant: Participant) -> ErasurePlan:
    deliveries = _deliveries_about(participant)
    delivered = deliveries.filter(status=DeliveryStatus.DELIVERED).count()
    endpoints = WebhookEndpoint.objects.filter(
        account_id=participant.account_id, is_active=True, disabled_at__isnull=True
    )
    return ErasurePlan(
        participant=participant,
        participations=list(
            participant.participations.select_related("campaign").order_by("submitted_at")
        ),
        login_attempts=LoginAttempt.objects.filter(participant=participant).count(),
        undelivered_events=deliveries.count() - delivered,
        delivered_events=delivered,
        remembered_logins=RememberedLogin.objects.filter(participant=participant).count(),
        endpoints_told=sum(
            WebhookEvent.PARTICIPANT_ERASED in (events or [])
            for events in endpoints.values_list("events", flat=True)
        ),
    )


def _deleted(queryset: QuerySet) -> int:
    """Rows of the queryset's own model deleted (not those of cascades)."""
    _total, per_model = queryset.delete()
    return per_model.get(queryset.model._meta.label, 0)


def participant_erase(*, participant: Participant, erased_by) -> ParticipantErasure:
    """Delete everything about `participant`, in one transaction; returns the audit record."""
    with transaction.atomic():
        # Locked on PostgreSQL: a participation submitted meanwhile waits, then finds no
        # participant, instead of outliving the erasure with their answers.
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        identity = {
            "subject": participant.subject,
            "issuer": participant.issuer_key,
            "integration_id": participant.integration_id,
        }
        participation_ids = list(participant.participations.values_list("pk", flat=True))
        erasure = ParticipantErasure(
            account_id=participant.account_id,
            erased_by=erased_by,
            webhook_deliveries=_deleted(_deliveries_about(participant)),
            login_attempts=_deleted(LoginAttempt.objects.filter(participant=participant)),
            participations=_deleted(Participation.objects.filter(participant=participant)),
            remembered_logins=_deleted(RememberedLogin.objects.filter(participant=participant)),
        )
        participant.delete()
        # Recorded after the deletions above: this event is the one that must go out.
        erasure.erased_events = len(
            webhook_participant_erased_record(
                account=participant.account_id,
                participant=identity,
                participation_ids=participation_ids,
            )
        )
        erasure.save()
    return erasure
