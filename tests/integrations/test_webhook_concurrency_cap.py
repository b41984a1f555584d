"""RF-08: one endpoint's receiver that hangs holds a bounded number of workers, never all."""

import threading
from datetime import timedelta

import pytest
import responses
from django.db import connection, transaction
from django.utils import timezone
from django_tasks import default_task_backend

from integrations.models import DeliveryStatus, WebhookDelivery
from integrations.webhooks import DeliveryOutcome, deliver_webhook, webhook_events_record
from integrations.webhooks.delivery import deliveries_claim, delivery_attempt
from tests.integrations.webhook_support import HOOK_URL, make_endpoint, participation_data

OTHER_URL = "https://other.example.com/hook"
DUMMY_TASKS = {
    "default": {
        "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        "QUEUES": ["default", "webhooks"],
    }
}


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
def test_a_task_refused_for_the_cap_sends_nothing_and_is_queued_again(account, settings):
    settings.WEBHOOK_ENDPOINT_CONCURRENCY = 1
    make_endpoint(account)
    responses.post(HOOK_URL, status=204)
    _record(account, 2)
    default_task_backend.clear()
    (holder,) = _claim()
    waiting = WebhookDelivery.objects.exclude(pk=holder.pk).get()

    before = timezone.now()
    assert deliver_webhook.call(waiting.pk) == DeliveryOutcome.BUSY

    assert len(responses.calls) == 0
    waiting.refresh_from_db()
    assert (waiting.attempt_count, waiting.lease_token) == (0, "")
    (requeued,) = default_task_backend.results
    assert requeued.args == [waiting.pk]
    assert requeued.task.run_after >= before + timedelta(seconds=29)


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
