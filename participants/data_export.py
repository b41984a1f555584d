"""One participant's data as JSON, for an account Administrator (or staff) to hand over
(README, "Participants' data", documents the format).

Everything stored about them: the participant, their participations with the values they
submitted and the IdP's, their login attempts (what the SSO activity log shows: never a state,
browser hash, nonce, PKCE verifier, token or configuration snapshot) and a remembered login's
profile while it lasts.
"""

import json
import logging
from datetime import datetime
from typing import Any

from django.utils import timezone

from integrations.fields import UndecryptableSecret
from participants.models import LoginAttempt, Participant, RememberedLogin

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "campaign-sso.participant-data"
EXPORT_VERSION = 1


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _participations(participant: Participant) -> list[dict[str, Any]]:
    return [
        {
            "id": participation.pk,
            "campaign": {
                "id": participation.campaign_id,
                "slug": participation.campaign.slug,
                "title": participation.campaign.title,
            },
            "submitted_at": _time(participation.submitted_at),
            "language": participation.language,
            "values": participation.values,
            "from_idp": participation.prefilled,
            "changed": participation.changed,
        }
        for participation in participant.participations.select_related("campaign").order_by(
            "submitted_at", "pk"
        )
    ]


def _login_attempts(participant: Participant) -> list[dict[str, Any]]:
    attempts = (
        LoginAttempt.objects.filter(participant=participant)
        .select_related("campaign")
        .order_by("created_at", "pk")
    )
    return [
        {
            "id": attempt.pk,
            "started_at": _time(attempt.created_at),
            "finished_at": _time(attempt.finished_at),
            "campaign": attempt.campaign.slug if attempt.campaign else None,
            "integration_id": attempt.integration_id,
            "language": attempt.language,
            "outcome": attempt.outcome,
            "failed_step": attempt.failed_step,
            "error_code": attempt.error_code,
            "warning_code": attempt.warning_code,
            "error_reference": attempt.error_reference,
            "idp_duration_ms": attempt.idp_duration_ms,
        }
        for attempt in attempts
    ]


def _remembered_logins(participant: Participant) -> list[dict[str, Any]]:
    exported = []
    for remembered in RememberedLogin.objects.filter(
        participant=participant, expires_at__gt=timezone.now()
    ).order_by("created_at"):
        profile = remembered.profile
        try:
            profile = None if isinstance(profile, UndecryptableSecret) else json.loads(profile)
        except ValueError:
            profile = None
        exported.append(
            {
                "integration_id": remembered.integration_id,
                "created_at": _time(remembered.created_at),
                "expires_at": _time(remembered.expires_at),
                "profile": profile,
            }
        )
    return exported


def participant_data_export(*, participant: Participant, exported_by=None) -> dict[str, Any]:
    """Everything stored about `participant`, as plain JSON-ready data."""
    integration = participant.integration
    data = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": _time(timezone.now()),
        "account": {"id": participant.account_id, "name": participant.account.name},
        "participant": {
            "subject": participant.subject,
            "issuer": participant.issuer_key,
            "integration": None
            if integration is None
            else {"id": integration.pk, "display_name": integration.display_name},
            "created_at": _time(participant.created_at),
            "last_login_at": _time(participant.last_login_at),
        },
        "participations": _participations(participant),
        "login_attempts": _login_attempts(participant),
        "remembered_logins": _remembered_logins(participant),
    }
    logger.info(
        "participant data exported: participant=%s account=%s user=%s",
        participant.pk,
        participant.account_id,
        getattr(exported_by, "pk", "-"),
    )
    return data
