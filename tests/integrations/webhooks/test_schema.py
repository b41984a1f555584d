"""The event schema is versioned, and its documented examples are what the code sends."""

import json
from datetime import UTC, datetime

import pytest

from integrations.models import WebhookEvent
from integrations.webhooks.payloads import (
    EXAMPLES_DIR,
    SCHEMA_PATH,
    SCHEMA_VERSION,
    participant_erased_payload,
    participation_created_payload,
    profile_updated_payload,
    webhook_test_payload,
)
from tests.integrations.webhooks.webhook_support import assert_valid_event

NOW = datetime(2026, 11, 27, 10, 30, 6, 123456, tzinfo=UTC)
SCHEMA = json.loads(SCHEMA_PATH.read_text())
EVENT_TYPES = SCHEMA["properties"]["type"]["enum"]

# The participation behind the examples: Alice corrected her city, unsubscribed, added the
# phone number her IdP did not have and cleared her street.
EXAMPLE_PARTICIPATION = {
    "id": 42,
    "submitted_at": datetime(2026, 11, 27, 10, 30, 5, tzinfo=UTC),
    "campaign": {"id": 7, "slug": "summer-contest", "title": "Summer contest"},
    "participant": {
        "subject": "248289761001",
        "issuer": "https://idp.example.com",
        "integration_id": 3,
    },
    "values": {
        "firstname": "Alice",
        "lastname": "Martin",
        "email": "alice.martin@example.com",
        "phone": "+32470123456",
        "street": "",
        "city": "Namur",
        "optin_newsletter": False,
    },
    "prefilled": {
        "firstname": "Alice",
        "lastname": "Martin",
        "email": "alice.martin@example.com",
        "street": "Rue Haute 1",
        "city": "Bruxelles",
        "optin_newsletter": True,
    },
    "changed": ["city", "optin_newsletter", "phone", "street"],
}


def built(event_type: str) -> dict:
    """The payload the code makes for the example's inputs."""
    match event_type:
        case "participation.created":
            return participation_created_payload(
                participation=EXAMPLE_PARTICIPATION, occurred_at=NOW
            )
        case "profile.updated":
            return profile_updated_payload(participation=EXAMPLE_PARTICIPATION, occurred_at=NOW)
        case "participant.erased":
            return participant_erased_payload(
                participant=EXAMPLE_PARTICIPATION["participant"],
                participation_ids=[57, 42],
                occurred_at=NOW,
            )
        case "webhook.test":
            return webhook_test_payload(endpoint_id=5, occurred_at=NOW)
    raise AssertionError(f"no example inputs for {event_type}")


def test_the_schema_names_its_version():
    assert SCHEMA["$id"].endswith(f"/webhook-event/{SCHEMA_VERSION}.json")
    assert f"version {SCHEMA_VERSION}" in SCHEMA["title"]


def test_every_event_a_customer_can_subscribe_to_is_in_the_schema():
    assert set(WebhookEvent.values) <= set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_event_type_has_an_example_that_the_schema_accepts(event_type):
    example = json.loads((EXAMPLES_DIR / f"{event_type}.json").read_text())
    assert example["type"] == event_type
    assert_valid_event(example)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_example_is_exactly_what_the_code_sends(event_type):
    example = json.loads((EXAMPLES_DIR / f"{event_type}.json").read_text())
    assert built(event_type) == example


def test_the_profile_update_example_shows_each_kind_of_difference():
    changes = json.loads((EXAMPLES_DIR / "profile.updated.json").read_text())["data"]["changes"]
    assert changes["city"] == {"before": "Bruxelles", "after": "Namur"}  # corrected
    assert changes["phone"]["before"] is None  # the IdP had none
    assert changes["street"]["after"] == ""  # cleared
    assert changes["optin_newsletter"] == {"before": True, "after": False}  # unticked
