"""Event payloads and Standard Webhooks signatures, checked as a receiver would check them."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integrations.webhooks.payloads import (
    WebhookEventError,
    body_bytes,
    participant_erased_payload,
    participation_created_payload,
    profile_updated_payload,
    webhook_test_payload,
)
from integrations.webhooks.signing import (
    WebhookSecretError,
    message_id_generate,
    secret_generate,
    signed_headers,
)
from tests.integrations.webhooks.webhook_support import assert_valid_event, participation_data

NOW = datetime(2026, 11, 27, 10, 30, 6, 123456, tzinfo=UTC)


def test_participation_created_carries_campaign_values_participant_and_flags():
    payload = participation_created_payload(participation=participation_data(), occurred_at=NOW)

    assert_valid_event(payload)
    assert payload["type"] == "participation.created"
    assert payload["timestamp"] == "2026-11-27T10:30:06.123456Z"
    data = payload["data"]
    assert data["participation_id"] == 42
    assert data["submitted_at"] == "2026-11-27T10:30:05Z"
    assert data["campaign"] == {"id": 7, "slug": "summer-contest", "title": "Summer contest"}
    assert data["participant"] == {
        "subject": "248289761001",
        "issuer": "https://idp.example.com",
        "integration_id": 3,
    }
    assert data["values"]["firstname"] == "Jane"
    assert data["values"]["optin_newsletter"] is True
    assert data["prefilled"] == ["email", "firstname", "lastname"]
    assert data["changed"] == ["firstname"]


def test_profile_updated_lists_each_changed_prefilled_value_before_and_after():
    payload = profile_updated_payload(participation=participation_data(), occurred_at=NOW)

    assert_valid_event(payload)
    assert payload["type"] == "profile.updated"
    assert payload["data"]["changes"] == {"firstname": {"before": "Janet", "after": "Jane"}}
    assert "values" not in payload["data"]


def test_no_profile_update_when_nothing_differs_from_the_idp():
    unchanged = participation_data(changed=[])
    assert profile_updated_payload(participation=unchanged, occurred_at=NOW) is None


def test_profile_updated_reports_values_the_idp_did_not_have_and_cleared_ones():
    data = participation_data(
        values={"firstname": "Janet", "phone": "+33612345678", "email": ""},
        prefilled={"firstname": "Janet", "email": "jane@example.com"},
        changed=["email", "phone"],
    )
    payload = profile_updated_payload(participation=data, occurred_at=NOW)

    assert_valid_event(payload)
    assert payload["data"]["changes"] == {
        "email": {"before": "jane@example.com", "after": ""},
        "phone": {"before": None, "after": "+33612345678"},
    }


def test_anonymous_participation_has_a_null_participant_and_dates_become_iso_strings():
    payload = participation_created_payload(
        participation=participation_data(
            participant=None,
            prefilled={},
            changed=[],
            values={"birthdate": date(1990, 5, 17), "email": "x@example.com"},
        ),
        occurred_at=NOW,
    )
    assert_valid_event(payload)
    assert payload["data"]["participant"] is None
    assert payload["data"]["values"]["birthdate"] == "1990-05-17"


def test_payload_holds_only_submitted_fields_never_tokens_or_the_raw_profile():
    data = participation_data()
    data["access_token"] = "eyJ-secret-token"
    data["participant"] = {**data["participant"], "id_token": "eyJ-id-token"}
    payload = participation_created_payload(participation=data, occurred_at=NOW)
    body = body_bytes(payload)
    assert b"eyJ" not in body
    assert_valid_event(payload)


def test_incomplete_data_raises_a_clear_error():
    data = participation_data()
    del data["campaign"]
    with pytest.raises(WebhookEventError, match="campaign"):
        participation_created_payload(participation=data, occurred_at=NOW)


def test_participant_erased_names_the_identity_and_participation_ids_only():
    payload = participant_erased_payload(
        participant={**participation_data()["participant"], "email": "jane@example.com"},
        participation_ids=[57, 42],
        occurred_at=NOW,
    )

    assert_valid_event(payload)
    assert payload["type"] == "participant.erased"
    assert payload["data"] == {
        "participant": {
            "subject": "248289761001",
            "issuer": "https://idp.example.com",
            "integration_id": 3,
        },
        "participation_ids": [42, 57],
    }


def test_test_event_matches_the_schema():
    assert_valid_event(webhook_test_payload(endpoint_id=5, occurred_at=NOW))


# ---------------------------------------------------------------------------- signing
def test_secret_is_whsec_and_32_random_bytes_and_unique():
    secrets = {secret_generate() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32


def test_message_ids_are_msg_prefixed_and_never_contain_a_dot():
    ids = {message_id_generate() for _ in range(200)}
    assert len(ids) == 200
    assert all(i.startswith("msg_") and "." not in i for i in ids)


def test_signature_verifies_with_the_official_standardwebhooks_library():
    secret = secret_generate()
    body = body_bytes(
        participation_created_payload(participation=participation_data(), occurred_at=NOW)
    )
    timestamp = int(datetime.now(UTC).timestamp())
    headers = signed_headers(secrets=[secret], message_id="msg_abc", timestamp=timestamp, body=body)

    assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret_generate()).verify(body, headers)


def test_signature_is_hmac_sha256_of_id_timestamp_body_with_the_decoded_secret():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    headers = signed_headers(
        secrets=[secret], message_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330, body=body
    )
    # The test vector of the Standard Webhooks reference libraries.
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + body, hashlib.sha256)
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected.digest()).decode()


def test_during_rotation_both_secrets_sign_space_separated():
    new, old = secret_generate(), secret_generate()
    body = b'{"type":"webhook.test"}'
    timestamp = int(datetime.now(UTC).timestamp())
    headers = signed_headers(secrets=[new, old], message_id="msg_x", timestamp=timestamp, body=body)

    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)


def test_a_stale_timestamp_is_refused_by_receivers():
    secret = secret_generate()
    stale = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp())
    headers = signed_headers(secrets=[secret], message_id="msg_x", timestamp=stale, body=b"{}")
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b"{}", headers)


def test_a_malformed_secret_is_refused():
    with pytest.raises(WebhookSecretError):
        signed_headers(secrets=["not-a-secret"], message_id="msg_x", timestamp=1, body=b"{}")
