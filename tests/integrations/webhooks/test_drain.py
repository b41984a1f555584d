"""A task drains its endpoint's backlog in batches: one lease, one slot and one commit per batch,
each delivery still sent once, recorded with its own answer, and given back when not sent."""

import json
import time
from collections import Counter
from datetime import timedelta

import pytest
import responses
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from integrations.webhooks.attempts import (
    DeliveryOutcome,
    deliveries_record,
    deliveries_send,
    endpoint_session,
)
from integrations.webhooks.leases import (
    INTERRUPTED_ERROR,
    LEASE,
    deliveries_claim,
    deliveries_handover,
    endpoint_slots_taken,
)
from integrations.webhooks.outbox import webhook_events_record
from integrations.webhooks.retries import RETRY_DELAYS
from integrations.webhooks.tasks import QUEUED_TASK_LOST_AFTER, deliver_webhook
from tests.integrations.webhooks.webhook_support import (
    DUMMY_TASKS,
    HOOK_URL,
    make_endpoint,
    participation_data,
)
from tests.ops.settings_module import reload_settings


@pytest.fixture(autouse=True)
def _queued_tasks_never_run(settings):
    # The test runs the one task it means to; the others stay queued.
    settings.TASKS = DUMMY_TASKS
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    settings.WEBHOOK_BATCH_SIZE = BATCH


BATCH = 25


def _backlog(account, n: int) -> list[WebhookDelivery]:
    with transaction.atomic():
        for i in range(n):
            webhook_events_record(account=account, participation=participation_data(id=i))
    # No task waits for them (the test runs the one it means to).
    WebhookDelivery.objects.update(queued_at=None)
    return list(WebhookDelivery.objects.order_by("next_attempt_at", "id"))


class Answers:
    """The receiver, at the HTTP boundary: answers each POST with the next status of `statuses`
    (the last one repeats), and keeps the webhook-id of each."""

    def __init__(self, *statuses: int, on_request=None):
        self.statuses = list(statuses)
        self.ids: list[str] = []
        self.on_request = on_request
        responses.add_callback(responses.POST, HOOK_URL, callback=self)

    def __call__(self, request):
        self.ids.append(request.headers["webhook-id"])
        if self.on_request:
            self.on_request(len(self.ids))
        status = self.statuses[min(len(self.ids), len(self.statuses)) - 1]
        return status, {}, json.dumps({"n": len(self.ids)}) if status == 200 else ""


def _leased_batch(account, n: int) -> tuple[WebhookEndpoint, list[WebhookDelivery]]:
    """An endpoint with a backlog of `n`, and a batch of it leased the way a drain leases one."""
    endpoint = make_endpoint(account, events=["participation.created"])
    _backlog(account, n)
    now = timezone.now()
    with transaction.atomic():
        batch = deliveries_handover(endpoint=endpoint, now=now, due_by=now, limit=BATCH)
    return endpoint, batch


@responses.activate
@pytest.mark.django_db
def test_a_backlog_is_drained_by_one_task_each_batch_under_one_lease(
    account, settings, django_assert_max_num_queries
):
    del settings.WEBHOOK_BATCH_SIZE  # the default: 25
    make_endpoint(account, events=["participation.created"])
    first, *_ = _backlog(account, 60)
    receiver = Answers(204)

    # The claim, then a few statements per batch of BATCH: one per delivery would be 300.
    with django_assert_max_num_queries(50):
        assert deliver_webhook.call(first.pk) == DeliveryOutcome.DELIVERED

    assert len(receiver.ids) == 60
    assert set(receiver.ids) == set(WebhookDelivery.objects.values_list("event_id", flat=True))
    assert set(WebhookDelivery.objects.values_list("status", "attempt_count", "lease_token")) == {
        (DeliveryStatus.DELIVERED, 1, "")
    }
    attempts = [
        attempt
        for delivery in WebhookDelivery.objects.prefetch_related("attempts")
        for attempt in delivery.attempts.all()
    ]
    assert len(attempts) == 60
    assert {(a.in_flight, a.status_code, a.error) for a in attempts} == {(False, 204, "")}
    # The task's own delivery, then batches of BATCH under one lease each.
    sizes = sorted(Counter(a.lease_token for a in attempts).values())
    assert sizes == sorted([1, BATCH, BATCH, 60 - 1 - 2 * BATCH])


@responses.activate
@pytest.mark.django_db
def test_with_a_batch_size_of_one_each_delivery_is_leased_and_recorded_alone(account, settings):
    settings.WEBHOOK_BATCH_SIZE = 1
    make_endpoint(account, events=["participation.created"])
    first, *_ = _backlog(account, 5)
    receiver = Answers(204)

    deliver_webhook.call(first.pk)

    assert len(receiver.ids) == 5
    tokens = Counter(
        WebhookDelivery.objects.values_list("attempts__lease_token", flat=True).order_by()
    )
    assert sorted(tokens.values()) == [1, 1, 1, 1, 1]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED
    }


@responses.activate
@pytest.mark.django_db
def test_each_delivery_of_a_batch_keeps_its_own_answer(account):
    make_endpoint(account, events=["participation.created"])
    first, *_ = _backlog(account, 6)
    receiver = Answers(200, 204, 202, 204, 200, 201)

    deliver_webhook.call(first.pk)

    answered = dict(zip(receiver.ids, [200, 204, 202, 204, 200, 201], strict=True))
    for delivery in WebhookDelivery.objects.prefetch_related("attempts"):
        (attempt,) = delivery.attempts.all()
        status = answered[delivery.event_id]
        assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.DELIVERED, status)
        assert attempt.status_code == status
        assert (attempt.response_body != "") == (status == 200)
        assert attempt.started_at <= delivery.delivered_at
    delivered_at = sorted(WebhookDelivery.objects.values_list("delivered_at", flat=True))
    assert len(set(delivered_at)) == 6  # each its own time, not the batch's


@responses.activate
@pytest.mark.django_db
def test_a_failure_in_a_batch_stops_the_drain_and_gives_the_rest_back_unsent(account):
    endpoint = make_endpoint(account, events=["participation.created"])
    first, *_ = _backlog(account, 40)
    receiver = Answers(*[204] * 10, 500)

    assert deliver_webhook.call(first.pk) == DeliveryOutcome.DELIVERED

    # The task's delivery and 9 of the batch went through; the 11th failed, and nothing after.
    assert len(receiver.ids) == 11
    by_id = {d.event_id: d for d in WebhookDelivery.objects.prefetch_related("attempts")}
    assert {by_id[i].status for i in receiver.ids[:10]} == {DeliveryStatus.DELIVERED}
    failed = by_id[receiver.ids[10]]
    assert (failed.status, failed.attempt_count, failed.last_status_code) == (
        DeliveryStatus.PENDING,
        1,
        500,
    )
    assert failed.next_attempt_at >= timezone.now() + RETRY_DELAYS[0] * 0.5
    (attempt,) = failed.attempts.all()
    assert (attempt.status_code, attempt.error, attempt.in_flight) == (500, "HTTP 500.", False)
    # The rest of its batch was given back as it was: no attempt counted, due, not leased.
    unsent = [d for event_id, d in by_id.items() if event_id not in receiver.ids]
    assert len(unsent) == 29
    now = timezone.now()
    for delivery in unsent:
        assert (delivery.status, delivery.attempt_count, delivery.lease_token) == (
            DeliveryStatus.PENDING,
            0,
            "",
        )
        assert delivery.locked_until is None
        assert delivery.next_attempt_at <= now
        assert list(delivery.attempts.all()) == []
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None


@pytest.mark.django_db
def test_a_batch_takes_one_slot_of_its_endpoint_however_many_it_holds(account):
    endpoint, batch = _leased_batch(account, 30)

    assert len(batch) == BATCH
    assert len({d.lease_token for d in batch}) == 1
    now = timezone.now()
    slots = endpoint_slots_taken(
        endpoint_ids=[endpoint.pk], now=now, queued_lost_after=QUEUED_TASK_LOST_AFTER
    )
    assert slots == {endpoint.pk: 1}
    # The endpoint's second slot is still free, and a third is not.
    (second,) = deliveries_claim(now=now, due_by=now, limit=10)
    assert second.pk not in {d.pk for d in batch}
    assert deliveries_claim(now=now, due_by=now, limit=10) == []


@pytest.mark.django_db
def test_a_batch_whose_worker_died_is_sent_again_with_the_same_ids(account, settings):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 10
    _, batch = _leased_batch(account, 3)  # ... and the worker dies before recording
    assert len(batch) == 3

    later = timezone.now() + LEASE + timedelta(seconds=1)
    assert deliveries_claim(now=timezone.now(), due_by=timezone.now(), limit=10) == []
    again = deliveries_claim(now=later, due_by=later, limit=10)

    assert sorted(d.event_id for d in again) == sorted(d.event_id for d in batch)
    for delivery in WebhookDelivery.objects.prefetch_related("attempts"):
        assert delivery.attempt_count == 2
        interrupted, in_flight = sorted(delivery.attempts.all(), key=lambda a: a.in_flight)
        assert (interrupted.lease_token, interrupted.error) == (
            batch[0].lease_token,
            INTERRUPTED_ERROR,
        )
        assert in_flight.in_flight


@responses.activate
@pytest.mark.django_db
def test_a_batch_whose_lease_was_lost_leaves_the_new_holder_s_delivery_alone(account):
    endpoint, batch = _leased_batch(account, 3)
    receiver = Answers(204)
    sent = deliveries_send(deliveries=batch, session=endpoint_session(endpoint=endpoint))
    assert len(receiver.ids) == 3
    # Meanwhile the batch's lease lapsed (a stalled worker) and another worker took one of them.
    later = timezone.now() + LEASE + timedelta(seconds=1)
    (taken,) = deliveries_claim(now=later, due_by=later)

    with transaction.atomic():
        assert deliveries_record(deliveries=batch, sent=sent) is False

    taken.refresh_from_db()
    assert (taken.status, taken.attempt_count) == (DeliveryStatus.PENDING, 2)
    assert taken.locked_until is not None
    # What really happened is kept for it too, beside the new holder's attempt in flight.
    assert sorted((a.lease_token, a.in_flight) for a in taken.attempts.all()) == sorted(
        [(batch[0].lease_token, False), (taken.lease_token, True)]
    )
    others = WebhookDelivery.objects.exclude(pk=taken.pk)
    assert set(others.values_list("status", "lease_token")) == {(DeliveryStatus.DELIVERED, "")}


@responses.activate
@pytest.mark.django_db
def test_sending_a_batch_stops_when_its_time_is_up(account):
    endpoint, batch = _leased_batch(account, 3)
    receiver = Answers(204)

    sent = deliveries_send(
        deliveries=batch, session=endpoint_session(endpoint=endpoint), until=time.monotonic()
    )

    # The first always goes; the others wait for the next batch.
    assert [s.outcome for s in sent] == [DeliveryOutcome.DELIVERED]
    assert receiver.ids == [batch[0].event_id]


@responses.activate
@pytest.mark.django_db
def test_an_endpoint_switched_off_during_a_drain_gets_no_further_batch(account):
    endpoint = make_endpoint(account, events=["participation.created"])
    first, *_ = _backlog(account, 10)

    def switch_off(_count):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)

    receiver = Answers(204, on_request=switch_off)

    deliver_webhook.call(first.pk)

    assert receiver.ids == [first.event_id]
    waiting = WebhookDelivery.objects.exclude(pk=first.pk)
    assert set(waiting.values_list("status", "attempt_count", "lease_token")) == {
        (DeliveryStatus.PENDING, 0, "")
    }


def test_the_batch_size_is_read_from_the_environment():
    assert reload_settings(WEBHOOK_BATCH_SIZE="1").WEBHOOK_BATCH_SIZE == 1
    assert reload_settings(WEBHOOK_BATCH_SIZE="100").WEBHOOK_BATCH_SIZE == 100


@pytest.mark.parametrize("value", ["0", "-3", "ten", "2.5", ""])
def test_a_batch_size_that_is_not_a_positive_whole_number_stops_start_up(value):
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_BATCH_SIZE must be a whole number"):
        reload_settings(WEBHOOK_BATCH_SIZE=value)
