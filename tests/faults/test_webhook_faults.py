"""The customer's webhook receiver is down, slow, gone (410) or throttling (429), and a worker
dies mid-delivery, while participants submit the campaign form.

Tasks go to the database queue (as in production): the participant's submit only writes the
participation and its outbox row in one transaction, whatever the receiver does. Deliveries are
then sent by the relay (`relay_webhooks`) to a real receiver on 127.0.0.1. Every fault ends with
the participation stored once and its event delivered once, with one `webhook-id` throughout.
"""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from integrations.webhooks.leases import deliveries_claim
from participants.models import Participation
from tests.faults.servers import WebhookReceiver, closed_port
from tests.integrations.webhooks.webhook_support import make_endpoint
from tests.participants.conftest import answers, form_token, form_url

DATABASE_TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "webhooks"],
    }
}


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.TASKS = DATABASE_TASKS
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = True


@pytest.fixture
def endpoint(account):
    return make_endpoint(
        account,
        url=f"http://127.0.0.1:{closed_port()}/hook",
        events=[WebhookEvent.PARTICIPATION_CREATED],
    )


def submit(campaign) -> float:
    """One participant fills in and submits the form; returns how long the submit took."""
    client = Client()
    token = form_token(client.get(form_url(campaign)))
    started = time.monotonic()
    response = client.post(form_url(campaign), answers(token))
    assert response.status_code == 303, response.status_code
    return time.monotonic() - started


def relay_due():
    """Time passes (every retry and lease comes due) and the relay runs once."""
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    call_command("relay_webhooks", "--once", "--grace", "0", verbosity=0)


def the_delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.get()


def test_receiver_down_then_back_gets_the_event_once(campaign, endpoint):
    submit(campaign)
    relay_due()
    delivery = the_delivery()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempt_count == 1 and delivery.last_status_code is None
    assert Participation.objects.count() == 1

    with WebhookReceiver() as receiver:
        endpoint.url = receiver.url
        endpoint.save()
        relay_due()
        relay_due()  # nothing left to send
    assert receiver.ids == [delivery.event_id]
    assert the_delivery().status == DeliveryStatus.DELIVERED


def test_a_slow_receiver_never_slows_the_submit(campaign, endpoint):
    with WebhookReceiver(delay=1.5) as receiver:
        endpoint.url = receiver.url
        endpoint.save()
        assert submit(campaign) < 1.0  # the submit only wrote the outbox row
        started = time.monotonic()
        relay_due()
        assert time.monotonic() - started >= 1.5
    assert receiver.ids == [the_delivery().event_id]
    assert the_delivery().status == DeliveryStatus.DELIVERED


def test_410_disables_the_endpoint_and_keeps_the_participation(campaign, endpoint):
    with WebhookReceiver(status=410) as receiver:
        endpoint.url = receiver.url
        endpoint.save()
        submit(campaign)
        relay_due()
        submit(campaign)  # a later participant: stored; a disabled endpoint gets no events
        relay_due()
    assert len(receiver.ids) == 1
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None
    assert Participation.objects.count() == 2
    # The failed delivery stays on record (the admin shows it, and can resend once re-enabled).
    assert the_delivery().status == DeliveryStatus.FAILED


def test_429_waits_as_told_then_delivers_once(campaign, endpoint):
    with WebhookReceiver(status=429, headers={"Retry-After": "120"}) as receiver:
        endpoint.url = receiver.url
        endpoint.save()
        submit(campaign)
        call_command("relay_webhooks", "--once", "--grace", "0", verbosity=0)
        delivery = the_delivery()
        assert delivery.status == DeliveryStatus.PENDING
        wait = delivery.next_attempt_at - timezone.now()
        assert timedelta(seconds=100) < wait <= timedelta(seconds=121)
        receiver.status = 204
        relay_due()
    assert receiver.ids == [delivery.event_id, delivery.event_id]
    assert the_delivery().status == DeliveryStatus.DELIVERED


def test_a_worker_killed_mid_delivery_is_redelivered_with_the_same_webhook_id(campaign, endpoint):
    with WebhookReceiver() as receiver:
        endpoint.url = receiver.url
        endpoint.save()
        submit(campaign)
        now = timezone.now()
        (claimed,) = deliveries_claim(now=now, due_by=now)  # the worker dies holding the lease
        call_command("relay_webhooks", "--once", "--grace", "0", verbosity=0)
        assert receiver.ids == []  # the lease still holds: nobody else sends it
        WebhookDelivery.objects.filter(pk=claimed.pk).update(
            locked_until=timezone.now() - timedelta(seconds=1)  # the lease runs out
        )
        relay_due()
    assert receiver.ids == [claimed.event_id]
    assert the_delivery().status == DeliveryStatus.DELIVERED
    assert Participation.objects.count() == 1
