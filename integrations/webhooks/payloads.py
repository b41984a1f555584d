"""The events' JSON payloads: `{type, timestamp, data}`, described by
`integrations/schemas/webhook-event.schema.json`.

Built from plain data handed over by the caller, so that integrations know no campaign or
participant model. Only submitted values and variable names go out: never tokens, secrets or
the raw IdP profile.
"""

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from integrations.models import WebhookEvent

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_PATH = SCHEMAS / "webhook-event.schema.json"
# One payload of each event type, as documented (README, Webhooks); the tests rebuild them.
EXAMPLES_DIR = SCHEMAS / "examples"
# The schema's version, in its $id: the minor number grows with additions a receiver written
# for the previous version still reads; anything else would be a new major version.
SCHEMA_VERSION = "1.1"
TEST_EVENT = "webhook.test"


class WebhookEventError(Exception):
    """The data handed over cannot make an event payload."""


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _plain(value: Any) -> Any:
    """JSON-ready: dates become ISO strings, tuples lists (what the receiver will see)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _envelope(event_type: str, data: dict, *, occurred_at: datetime) -> dict:
    return {"type": event_type, "timestamp": _timestamp(occurred_at), "data": _plain(data)}


def _common(participation: Mapping) -> dict:
    try:
        campaign = participation["campaign"]
        participant = participation.get("participant")
        submitted_at = participation["submitted_at"]
        return {
            "participation_id": participation["id"],
            "submitted_at": _timestamp(submitted_at)
            if isinstance(submitted_at, datetime)
            else submitted_at,
            "campaign": {
                "id": campaign["id"],
                "slug": campaign["slug"],
                "title": campaign["title"],
            },
            "participant": None
            if participant is None
            else {
                "subject": participant["subject"],
                "issuer": participant["issuer"],
                "integration_id": participant.get("integration_id"),
            },
        }
    except (KeyError, TypeError) as exc:
        raise WebhookEventError(f"The participation data lacks {exc}.") from exc


def profile_changes(participation: Mapping) -> dict[str, dict]:
    """{variable: {before, after}} for each value the participant submitted that differs from
    what the IdP gave (`changed`): `before` is the IdP's value, null when it had none; `after`
    is the submitted value ("" for a field left empty, false for an unticked box)."""
    prefilled = participation.get("prefilled") or {}
    values = participation.get("values") or {}
    return {
        variable: {"before": prefilled.get(variable), "after": values.get(variable)}
        for variable in sorted(participation.get("changed") or [])
    }


def participation_created_payload(*, participation: Mapping, occurred_at: datetime) -> dict:
    prefilled = participation.get("prefilled") or {}
    data = {
        **_common(participation),
        "values": dict(participation.get("values") or {}),
        "prefilled": sorted(prefilled),
        "changed": sorted(participation.get("changed") or []),
    }
    return _envelope(WebhookEvent.PARTICIPATION_CREATED, data, occurred_at=occurred_at)


def profile_updated_payload(*, participation: Mapping, occurred_at: datetime) -> dict | None:
    """None when every submitted value is what the IdP gave: there is nothing to tell."""
    changes = profile_changes(participation)
    if not changes:
        return None
    data = {**_common(participation), "changes": changes}
    return _envelope(WebhookEvent.PROFILE_UPDATED, data, occurred_at=occurred_at)


def participant_erased_payload(
    *, participant: Mapping, participation_ids: Sequence[int], occurred_at: datetime
) -> dict:
    """A participant's data was erased here: the customer may erase them on their side too.
    Their identity and the ids of the participations that went; nothing else about them."""
    try:
        data = {
            "participant": {
                "subject": participant["subject"],
                "issuer": participant["issuer"],
                "integration_id": participant.get("integration_id"),
            },
            "participation_ids": sorted(int(pk) for pk in participation_ids),
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise WebhookEventError(f"The erased participant's data lacks {exc}.") from exc
    return _envelope(WebhookEvent.PARTICIPANT_ERASED, data, occurred_at=occurred_at)


def webhook_test_payload(*, endpoint_id: int, occurred_at: datetime) -> dict:
    data = {
        "endpoint_id": endpoint_id,
        "message": "A test event sent from the Campaign SSO admin. It carries no participant data.",
    }
    return _envelope(TEST_EVENT, data, occurred_at=occurred_at)


def body_bytes(payload: dict) -> bytes:
    """The request body: serialised once per attempt, and these exact bytes are signed."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
