"""RF-08: one endpoint's receiver that hangs holds a bounded number of workers, never all."""

import threading
import time
from datetime import timedelta

import pytest
import responses
from django.db import connection, transaction
from django.utils import timezone
from django_tasks import default_task_backend

from integrations.models import DeliveryStatus, WebhookDelivery
from integrations.webhooks.attempts import DeliveryOutcome
from integrations.webhooks.leases import deliveries_claim, deliveries_handover
from integrations.webhooks.outbox import webhook_events_record
from integrations.webhooks.tasks import (
    QUEUED_TASK_LOST_AFTER,
    deliver_webhook,
    deliveries_dispatch,
    delivery_attempt,
)
from tests.integrations.webhooks.webhook_support import (
    DUMMY_TASKS,
    HOOK_URL,
    make_endpoint,
    participation_data,
)

OTHER_URL = "https://other.example.com/hook"


@pytest.fixture(autouse=True)
def _queued_tasks_never_run(settings):
    settings.TASKS = DUMMY_TASKS


def _record(account, n: int):
    with transaction.atomic():
        for i in range(n):
            webhook_events_record(
                account=account, participation=participation_data(id=i, changed=[])
            )


def _claim(**kwargs):
    now = timezone.now()
    return deliveries_claim(now=now, due_by=now, **kwargs)


@pytest.mark.django_db
def test_with_a_cap_of_one_a_second_claimer_gets_only_another_endpoint_s_delivery(
    account, other_account, settings
):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 1
    hanging = make_endpoint(account)
    healthy = make_endpoint(other_account, url=OTHER_URL)
    _record(account, 2)
    _record(other_account, 1)

    (first,) = _claim()  # the oldest: the hanging endpoint's
    assert first.endpoint_id == hanging.pk

    second = _claim(limit=10)

    assert [d.endpoint_id for d in second] == [healthy.pk]
    waiting = WebhookDelivery.objects.get(endpoint=hanging, lease_token="")
    assert (waiting.status, waiting.attempt_count) == (DeliveryStatus.PENDING, 0)
    assert not waiting.attempts.exists()


@responses.activate
@pytest.mark.django_db
def test_a_freed_slot_lets_the_next_delivery_of_the_endpoint_go(account, settings):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 1
    make_endpoint(account)
    responses.post(HOOK_URL, status=204)
    _record(account, 2)

    (first,) = _claim(limit=10)
    assert _claim(limit=10) == []
    assert delivery_attempt(delivery=first) == DeliveryOutcome.DELIVERED

    (second,) = _claim(limit=10)
    assert second.pk != first.pk


@pytest.mark.django_db
def test_the_default_cap_is_two_deliveries_per_endpoint(account, settings):
    del settings.WEBHOOK_ENDPOINT_CONCURRENCY
    make_endpoint(account)
    _record(account, 3)

    assert len(_claim(limit=10)) == 2
    assert _claim(limit=10) == []
    # An expired lease (a dead worker) no longer takes a slot.
    WebhookDelivery.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
    WebhookDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert len(_claim(limit=10)) == 2


@responses.activate
@pytest.mark.django_db
def test_a_task_refused_for_the_cap_queues_nothing_and_the_freed_slot_queues_the_delivery(
    account, settings
):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 1
    make_endpoint(account)
    responses.post(HOOK_URL, status=204)
    _record(account, 2)
    default_task_backend.clear()
    (holder,) = _claim()
    waiting = WebhookDelivery.objects.exclude(pk=holder.pk).get()

    assert deliver_webhook.call(waiting.pk) == DeliveryOutcome.BUSY

    assert len(responses.calls) == 0
    waiting.refresh_from_db()
    assert (waiting.attempt_count, waiting.lease_token, waiting.queued_at) == (0, "", None)
    # No task re-queued by the refused one, and none by the relay while the endpoint is full:
    # the delivery waits in the outbox, not in the queue.
    assert default_task_backend.results == []
    assert deliveries_dispatch(now=timezone.now()) == 0
    assert default_task_backend.results == []

    assert delivery_attempt(delivery=holder) == DeliveryOutcome.DELIVERED

    (queued,) = default_task_backend.results
    assert queued.args == [waiting.pk]
    waiting.refresh_from_db()
    assert waiting.queued_at is not None


@pytest.mark.django_db
def test_the_relay_queues_one_task_per_delivery_and_each_endpoint_its_share(
    account, other_account, settings
):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    make_endpoint(account)
    healthy = make_endpoint(other_account, url=OTHER_URL)
    _record(account, 30)  # a backlog, older than the other endpoint's delivery
    _record(other_account, 1)
    WebhookDelivery.objects.update(queued_at=None)  # their tasks ran (and found no room)
    default_task_backend.clear()

    assert deliveries_dispatch(now=timezone.now(), limit=3) == 3
    assert deliveries_dispatch(now=timezone.now()) == 0  # nothing queued twice, no room left

    queued = WebhookDelivery.objects.filter(queued_at__isnull=False)
    assert sorted(d.pk for d in queued) == sorted(r.args[0] for r in default_task_backend.results)
    assert queued.filter(endpoint=healthy).count() == 1
    assert queued.exclude(endpoint=healthy).count() == 2


@pytest.mark.django_db
def test_a_queued_task_that_never_ran_stops_holding_its_endpoint_s_slot(account, settings):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 1
    make_endpoint(account)
    _record(account, 2)
    first, second = WebhookDelivery.objects.order_by("pk")
    WebhookDelivery.objects.filter(pk=second.pk).update(queued_at=None)
    default_task_backend.clear()
    # The first one's task is queued (on commit) and takes the endpoint's only slot.
    assert deliveries_dispatch(now=timezone.now()) == 0

    # A minute on, that task has not run: it was lost (a flushed queue).
    later = timezone.now() + QUEUED_TASK_LOST_AFTER + timedelta(seconds=1)
    assert deliveries_dispatch(now=later) == 1
    (queued,) = default_task_backend.results
    assert queued.args == [second.pk]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent PostgreSQL claims")
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_on_postgresql_never_exceed_the_cap(account, settings):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    make_endpoint(account)
    _record(account, 8)
    start = threading.Barrier(6)
    claimed, errors = [], []
    lock = threading.Lock()

    def claimer():
        try:
            start.wait()
            got = _claim()
            with lock:
                claimed.extend(got)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(claimed) == 2
    assert WebhookDelivery.objects.filter(locked_until__gt=timezone.now()).count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent PostgreSQL leases")
@pytest.mark.django_db(transaction=True)
def test_a_slot_freed_while_another_worker_leases_the_oldest_still_gets_a_task(account, settings):
    # Two workers drain one endpoint. As one hands its slot on, the other is leasing its next
    # batch: the very deliveries the hand-on picked. The slot must go to the ones after them,
    # not stay idle until the other drain ends.
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 2
    endpoint = make_endpoint(account)
    _record(account, 40)
    WebhookDelivery.objects.update(queued_at=None)
    default_task_backend.clear()
    oldest = list(
        WebhookDelivery.objects.order_by("next_attempt_at", "id").values_list("pk", flat=True)
    )
    leasing, release = threading.Event(), threading.Event()
    leased, errors = [], []

    def other_worker():
        try:
            with transaction.atomic():
                now = timezone.now()
                leased.extend(deliveries_handover(endpoint=endpoint, now=now, due_by=now, limit=25))
                leasing.set()
                release.wait(timeout=10)  # committed once the dispatch waits on its rows
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    assert leasing.wait(timeout=10)
    waiter = threading.Thread(target=_release_when_a_statement_waits_on_a_lock, args=(release,))
    waiter.start()
    queued = deliveries_dispatch(now=timezone.now(), endpoint_id=endpoint.pk)
    thread.join()
    waiter.join()

    assert errors == []
    assert [d.pk for d in leased] == oldest[:25]
    # The other worker's batch is one slot; the one freed gets the next due delivery.
    assert queued == 1
    (task,) = default_task_backend.results
    assert task.args == [oldest[25]]
    assert WebhookDelivery.objects.filter(queued_at__isnull=False).count() == 1


def _release_when_a_statement_waits_on_a_lock(release: threading.Event) -> None:
    """Set `release` once another session of this database waits on a row lock (the dispatch's
    UPDATE behind the other worker's uncommitted lease), or after 10 s."""
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0]:
                    break
            time.sleep(0.01)
    finally:
        release.set()
        connection.close()
