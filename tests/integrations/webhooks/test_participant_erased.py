"""`participant.erased`: recorded in the erasure's transaction, signed and sent like the others."""

import json

import pytest
import responses
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from integrations.webhooks.outbox import WebhookOutboxError, webhook_participant_erased_record
from tests.integrations.webhooks.webhook_support import (
    HOOK_URL,
    IMMEDIATE_TASKS,
    assert_valid_event,
    make_endpoint,
)

PARTICIPANT = {"subject": "sub-1", "issuer": "https://idp.example.com", "integration_id": 3}


@pytest.fixture(autouse=True)
def _immediate_tasks(settings):
    settings.TASKS = IMMEDIATE_TASKS


def _record(account):
    with transaction.atomic():
        return webhook_participant_erased_record(
            account=account, participant=PARTICIPANT, participation_ids=[7, 3]
        )


@pytest.mark.django_db
def test_only_the_accounts_endpoints_subscribed_to_it_get_the_event(account, other_account):
    subscribed = make_endpoint(account, events=[WebhookEvent.PARTICIPANT_ERASED])
    make_endpoint(account)  # participation events only
    make_endpoint(other_account, events=[WebhookEvent.PARTICIPANT_ERASED])

    deliveries = _record(account)

    assert [d.endpoint for d in deliveries] == [subscribed]
    assert_valid_event(deliveries[0].payload)
    assert deliveries[0].payload["data"]["participation_ids"] == [3, 7]


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused(account):
    make_endpoint(account, events=[WebhookEvent.PARTICIPANT_ERASED])
    with pytest.raises(WebhookOutboxError, match="inside the transaction"):
        webhook_participant_erased_record(
            account=account, participant=PARTICIPANT, participation_ids=[]
        )
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_is_signed_with_standard_webhooks_like_every_event(account):
    endpoint = make_endpoint(account, events=[WebhookEvent.PARTICIPANT_ERASED])
    with responses.RequestsMock() as rsps:
        rsps.post(HOOK_URL, status=204)
        _record(account)  # the task runs once the transaction commits
        request = rsps.calls[0].request

    event = Webhook(endpoint.secret).verify(request.body, dict(request.headers))
    assert event["type"] == "participant.erased"
    assert json.loads(request.body)["data"]["participant"] == PARTICIPANT
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED
