"""The outbox: events are written in the participation's transaction and never lost or doubled."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from integrations.webhooks.attempts import DeliveryOutcome
from integrations.webhooks.leases import LEASE, deliveries_claim
from integrations.webhooks.outbox import WebhookOutboxError, webhook_events_record
from integrations.webhooks.retries import MAX_ATTEMPTS
from integrations.webhooks.tasks import deliveries_dispatch, delivery_attempt
from tests.integrations.webhooks.webhook_support import (
    HOOK_URL,
    IMMEDIATE_TASKS,
    assert_valid_event,
    make_endpoint,
    participation_data,
)


@pytest.fixture(autouse=True)
def _immediate_tasks(settings):
    settings.TASKS = IMMEDIATE_TASKS


def _record(account, **overrides):
    with transaction.atomic():
        return webhook_events_record(account=account, participation=participation_data(**overrides))


def _relay_once():
    call_command("relay_webhooks", "--once", "--grace", "0", verbosity=0)


def _make_all_due():
    """Time passes: every retry comes due."""
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db(transaction=True)
def test_recording_outside_a_transaction_is_refused(account):
    make_endpoint(account)
    with pytest.raises(WebhookOutboxError, match="inside the transaction"):
        webhook_events_record(account=account, participation=participation_data())
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_one_delivery_per_subscribed_usable_endpoint_of_the_account(account, other_account):
    both = make_endpoint(account)
    created_only = make_endpoint(account, events=[WebhookEvent.PARTICIPATION_CREATED])
    make_endpoint(account, is_active=False)
    make_endpoint(account, disabled_at=timezone.now(), disabled_reason="410")
    make_endpoint(other_account)

    deliveries = _record(account)

    assert sorted((d.endpoint_id, d.event_type) for d in deliveries) == sorted(
        [
            (both.pk, "participation.created"),
            (both.pk, "profile.updated"),
            (created_only.pk, "participation.created"),
        ]
    )
    assert len({d.event_id for d in deliveries}) == 3
    for delivery in deliveries:
        assert_valid_event(delivery.payload)


@pytest.mark.django_db
def test_no_profile_update_event_when_nothing_prefilled_changed(account):
    make_endpoint(account)
    deliveries = _record(account, changed=[])
    assert [d.event_type for d in deliveries] == ["participation.created"]


@pytest.mark.django_db
def test_an_event_over_the_size_limit_is_left_out_with_a_warning(account, settings, caplog):
    settings.WEBHOOK_MAX_PAYLOAD_BYTES = 2_000
    make_endpoint(account)
    huge = {"firstname": "Jane", "comment": "x" * 3_000}

    with caplog.at_level("WARNING", logger="integrations.webhooks"):
        deliveries = _record(account, values=huge, changed=[])

    assert deliveries == []
    assert not WebhookDelivery.objects.exists()
    assert "participation.created of participation 42" in caplog.text
    assert "over WEBHOOK_MAX_PAYLOAD_BYTES=2000" in caplog.text
    # Under the limit, recorded as usual; the default limit is 256 KiB.
    assert len(_record(account, changed=[])) == 1
    del settings.WEBHOOK_MAX_PAYLOAD_BYTES
    assert len(_record(account, values={"comment": "x" * 200_000}, changed=[])) == 1
    assert _record(account, values={"comment": "x" * 270_000}, changed=[]) == []


@pytest.mark.django_db
def test_only_the_oversized_event_of_a_participation_is_left_out(account, settings):
    settings.WEBHOOK_MAX_PAYLOAD_BYTES = 2_000
    make_endpoint(account)
    # participation.created carries every value, profile.updated only the changed one.
    values = {"firstname": "Jane", "comment": "x" * 3_000}

    deliveries = _record(account, values=values, changed=["firstname"])

    assert [d.event_type for d in deliveries] == ["profile.updated"]


@responses.activate
@pytest.mark.django_db
def test_delivered_after_commit_signed_and_verifiable(account, django_capture_on_commit_callbacks):
    endpoint = make_endpoint(account)
    responses.post(HOOK_URL, status=204)

    with django_capture_on_commit_callbacks(execute=True):
        deliveries = _record(account)

    assert len(responses.calls) == 2
    for call in responses.calls:
        payload = Webhook(endpoint.secret).verify(call.request.body, call.request.headers)
        assert_valid_event(payload)
    assert {d.status for d in WebhookDelivery.objects.all()} == {DeliveryStatus.DELIVERED}
    sent_ids = {call.request.headers["webhook-id"] for call in responses.calls}
    assert sent_ids == {d.event_id for d in deliveries}


@responses.activate
@pytest.mark.django_db
def test_rolled_back_transaction_sends_nothing(account, django_capture_on_commit_callbacks):
    make_endpoint(account)
    responses.post(HOOK_URL, status=204)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        webhook_events_record(account=account, participation=participation_data())
        assert WebhookDelivery.objects.count() == 2  # written in the same transaction
        raise RuntimeError("the participation could not be saved")
    _relay_once()

    assert not WebhookDelivery.objects.exists()
    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.django_db
def test_process_died_after_commit_the_relay_delivers_later_once(
    account, django_capture_on_commit_callbacks
):
    make_endpoint(account)
    responses.post(HOOK_URL, status=200)

    # The commit happened, the on-commit enqueue never ran (the process died).
    with django_capture_on_commit_callbacks(execute=False):
        deliveries = _record(account)
    assert len(responses.calls) == 0

    _relay_once()
    _relay_once()

    assert len(responses.calls) == 2
    assert Counter(c.request.headers["webhook-id"] for c in responses.calls) == Counter(
        {d.event_id: 1 for d in deliveries}
    )
    assert {d.status for d in WebhookDelivery.objects.all()} == {DeliveryStatus.DELIVERED}


@responses.activate
@pytest.mark.django_db
def test_the_relay_leaves_fresh_deliveries_to_the_task_queue(
    account, django_capture_on_commit_callbacks
):
    make_endpoint(account)
    responses.post(HOOK_URL, status=200)
    with django_capture_on_commit_callbacks(execute=False):
        _record(account)

    call_command("relay_webhooks", "--once", "--grace", "60", verbosity=0)

    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.django_db
def test_receiver_down_for_a_while_gets_every_event_later_exactly_once(
    account, django_capture_on_commit_callbacks
):
    make_endpoint(account)
    down = responses.post(HOOK_URL, status=503)
    with django_capture_on_commit_callbacks(execute=True):
        recorded = [d for n in range(3) for d in _record(account, id=100 + n)]
    assert len(recorded) == 6
    for _ in range(3):  # three more failed rounds while the receiver is down
        _make_all_due()
        _relay_once()
    assert down.call_count == 6 * 4

    responses.replace(responses.POST, HOOK_URL, status=200)
    _make_all_due()
    _relay_once()
    _make_all_due()
    _relay_once()

    accepted = [c for c in responses.calls if c.response.status_code == 200]
    assert Counter(c.request.headers["webhook-id"] for c in accepted) == Counter(
        {d.event_id: 1 for d in recorded}
    )
    for delivery in WebhookDelivery.objects.all():
        assert delivery.status == DeliveryStatus.DELIVERED
        assert delivery.attempt_count == 5
        assert delivery.attempts.count() == 5


@responses.activate
@pytest.mark.django_db
def test_worker_killed_mid_delivery_is_redelivered_with_the_same_webhook_id(
    account, django_capture_on_commit_callbacks
):
    make_endpoint(account)
    responses.post(HOOK_URL, status=200)
    with django_capture_on_commit_callbacks(execute=False):
        (delivery,) = _record(account, changed=[])

    now = timezone.now()
    (claimed,) = deliveries_claim(now=now, due_by=now)  # ... and the worker dies here
    _relay_once()
    assert len(responses.calls) == 0  # its lease still holds

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)  # the lease runs out
    )
    _make_all_due()  # and the retry delay of the interrupted attempt passes
    _relay_once()

    assert [c.request.headers["webhook-id"] for c in responses.calls] == [delivery.event_id]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    # The interrupted attempt counted, and the log says what happened to it.
    assert delivery.attempt_count == 2
    interrupted, delivered = delivery.attempts.order_by("id")
    assert interrupted.error.startswith("Interrupted") and not interrupted.in_flight
    assert delivered.status_code == 200 and not delivered.in_flight


@responses.activate
@pytest.mark.django_db
def test_a_claim_counts_the_attempt_before_sending_and_is_due_again_once_its_lease_lapses(
    account, django_capture_on_commit_callbacks
):
    make_endpoint(account)
    responses.post(HOOK_URL, status=200)
    with django_capture_on_commit_callbacks(execute=False):
        (delivery,) = _record(account, changed=[])
    now = timezone.now()

    deliveries_claim(now=now, due_by=now)  # ... and the worker dies before the POST

    delivery.refresh_from_db()
    assert delivery.attempt_count == 1
    (attempt,) = delivery.attempts.all()
    assert attempt.in_flight and attempt.lease_token == delivery.lease_token
    # A short lease (renewed while a live worker sends), not minutes.
    assert delivery.locked_until - now <= LEASE + timedelta(seconds=2)
    # If the worker never reports back, the delivery is due as soon as the lease lapses.
    assert delivery.next_attempt_at <= delivery.locked_until
    assert deliveries_dispatch(now=timezone.now()) == 0  # the lease holds
    assert len(responses.calls) == 0

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)  # the lease lapses
    )
    assert deliveries_dispatch(now=timezone.now()) == 1

    assert [c.request.headers["webhook-id"] for c in responses.calls] == [delivery.event_id]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.DELIVERED, 2)


@responses.activate
@pytest.mark.django_db
def test_a_delivery_whose_worker_keeps_dying_ends_failed_after_the_schedule(
    account, django_capture_on_commit_callbacks, caplog
):
    make_endpoint(account)
    responses.post(HOOK_URL, status=200)
    with django_capture_on_commit_callbacks(execute=False):
        (delivery,) = _record(account, changed=[])

    moment = timezone.now()
    for n in range(1, MAX_ATTEMPTS + 1):
        (claimed,) = deliveries_claim(now=moment, due_by=moment)  # ... and the worker dies
        assert claimed.event_id == delivery.event_id
        assert claimed.attempt_count == n
        # Time passes: the lease runs out and the planned retry comes due.
        moment = max(claimed.locked_until, claimed.next_attempt_at) + timedelta(seconds=1)

    with caplog.at_level("WARNING", logger="integrations.webhooks"):
        assert deliveries_claim(now=moment, due_by=moment) == []

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempt_count == MAX_ATTEMPTS
    assert delivery.last_error.startswith("Interrupted")
    assert delivery.lease_token == ""
    attempts = delivery.attempts.all()
    assert len(attempts) == MAX_ATTEMPTS
    assert {a.in_flight for a in attempts} == {False}
    assert all(a.error.startswith("Interrupted") for a in attempts)
    assert "interrupted" in caplog.text
    assert len(responses.calls) == 0
    _relay_once()  # a failed delivery is never sent again by itself
    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.django_db
def test_a_worker_whose_lease_ran_out_does_not_overwrite_the_new_owner(
    account, django_capture_on_commit_callbacks
):
    make_endpoint(account)
    responses.post(HOOK_URL, status=500)
    with django_capture_on_commit_callbacks(execute=False):
        (delivery,) = _record(account, changed=[])
    now = timezone.now()
    (slow,) = deliveries_claim(now=now, due_by=now)
    later = now + timedelta(minutes=6)
    (owner,) = deliveries_claim(now=later, due_by=later)
    assert owner.lease_token != slow.lease_token

    delivery_attempt(delivery=slow)

    delivery.refresh_from_db()
    assert delivery.lease_token == owner.lease_token
    assert delivery.attempt_count == 2  # both claims counted
    assert delivery.status == DeliveryStatus.PENDING  # the new owner decides
    slow_attempt = delivery.attempts.get(lease_token=slow.lease_token)
    assert slow_attempt.status_code == 500  # what it did is still on record
    assert delivery.attempts.get(lease_token=owner.lease_token).in_flight


@pytest.mark.django_db
def test_two_claims_of_the_same_delivery_never_both_win(
    account, django_capture_on_commit_callbacks
):
    make_endpoint(account)
    with django_capture_on_commit_callbacks(execute=False):
        _record(account)
    now = timezone.now()

    first = deliveries_claim(now=now, due_by=now, limit=10)
    second = deliveries_claim(now=now, due_by=now, limit=10)

    assert len(first) == 2
    assert second == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
@pytest.mark.django_db(transaction=True)
def test_concurrent_relays_on_postgresql_never_send_the_same_attempt(account, settings):
    # Tasks are queued and never run: the three relays share the whole backlog.
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.dummy.DummyBackend",
            "QUEUES": ["default", "webhooks"],
        }
    }
    make_endpoint(account)
    with transaction.atomic():
        for n in range(20):
            webhook_events_record(account=account, participation=participation_data(id=n))
    sent = Counter()
    lock = threading.Lock()

    def receive(request):
        with lock:
            sent[request.headers["webhook-id"]] += 1
        return (200, {}, "")

    errors = []

    def relay():
        try:
            call_command("relay_webhooks", "--once", "--grace", "0", verbosity=0)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, HOOK_URL, callback=receive)
        threads = [threading.Thread(target=relay) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert len(sent) == 40
    assert set(sent.values()) == {1}
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count() == 40


@responses.activate
@pytest.mark.django_db
def test_a_claim_that_sends_nothing_gives_its_attempt_back(
    account, django_capture_on_commit_callbacks
):
    make_endpoint(account)
    with django_capture_on_commit_callbacks(execute=False):
        (delivery,) = _record(account, changed=[])
    now = timezone.now()
    (claimed,) = deliveries_claim(now=now, due_by=now)
    claimed.endpoint.disabled_at = timezone.now()  # switched off as the claim read it

    assert delivery_attempt(delivery=claimed) == DeliveryOutcome.PAUSED

    delivery.refresh_from_db()
    assert (delivery.attempt_count, delivery.lease_token, delivery.locked_until) == (0, "", None)
    assert not delivery.attempts.exists()
    assert delivery.next_attempt_at <= timezone.now()
    assert len(responses.calls) == 0
