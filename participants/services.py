"""What the public does that spans models: submitting a campaign form."""

from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction

from campaigns.models import Campaign, ParticipationLimit
from integrations.webhooks.outbox import webhook_events_record
from participants.models import Participant, Participation


class AlreadyParticipatedError(Exception):
    """The campaign allows one participation and this participant already took part."""


def _blank(value: Any) -> bool:
    return value is None or value is False or (isinstance(value, str) and not value.strip())


def participation_changed(
    *, values: dict[str, Any], prefilled: dict[str, Any], from_idp: Iterable[str] = ()
) -> list[str]:
    """The variables whose submitted value differs from what the IdP gave.

    That is a prefilled value the participant corrected or cleared, and a value the IdP was
    asked for (`from_idp`: the mapping's targets on the form) but did not have, which the
    participant filled in. Nothing on both sides (an empty field, an unticked box where the IdP
    had no value) is no difference.
    """
    asked = set(prefilled) | set(from_idp)
    return sorted(
        variable
        for variable in asked
        if variable in values
        and not (_blank(prefilled.get(variable)) and _blank(values[variable]))
        and prefilled.get(variable) != values[variable]
    )


def participation_create(
    *,
    campaign: Campaign,
    values: dict[str, Any],
    prefilled: dict[str, Any],
    from_idp: Iterable[str] = (),
    participant: Participant | None = None,
    language: str,
    submission_token: str,
    once_key: str | None,
) -> Participation:
    """Store a submitted form; idempotent per submission token.

    A second call with the same token (double click, refresh, resend after a timeout) returns
    the participation the first one created. When the campaign allows one participation per
    participant, `once_key` (see `participants.views`) is unique per campaign and a second
    participation raises AlreadyParticipatedError.
    """
    if campaign.participation_limit != ParticipationLimit.ONCE:
        once_key = None
    try:
        with transaction.atomic():
            participation = Participation.objects.create(
                campaign_id=campaign.pk,
                participant=participant,
                values=values,
                prefilled=prefilled,
                changed=participation_changed(
                    values=values, prefilled=prefilled, from_idp=from_idp
                ),
                language=language,
                submission_token=submission_token,
                once_key=once_key,
            )
            # The webhook outbox rows commit or roll back with the participation: no event is
            # lost after a crash, none is sent for a participation that was not stored.
            webhook_events_record(
                account=campaign.account_id,
                participation=_event_data(participation, campaign=campaign),
            )
            return participation
    except IntegrityError:
        # The unique constraints decide races that a look-up before the insert would lose.
        existing = Participation.objects.filter(submission_token=submission_token).first()
        if existing is not None and existing.campaign_id == campaign.pk:
            return existing
        if (
            once_key
            and Participation.objects.filter(campaign_id=campaign.pk, once_key=once_key).exists()
        ):
            raise AlreadyParticipatedError from None
        raise


def _event_data(participation: Participation, *, campaign) -> dict[str, Any]:
    """The participation as plain data for the webhook payloads (no tokens, no raw profile)."""
    participant = participation.participant
    return {
        "id": participation.pk,
        "submitted_at": participation.submitted_at,
        "campaign": {"id": campaign.pk, "slug": campaign.slug, "title": campaign.title},
        "participant": None
        if participant is None
        else {
            "subject": participant.subject,
            "issuer": participant.issuer_key,
            "integration_id": participant.integration_id,
        },
        "values": participation.values,
        "prefilled": participation.prefilled,
        "changed": participation.changed,
    }
