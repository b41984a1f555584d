"""The delivery path for real on both task backends, to a receiver on 127.0.0.1: django-tasks-db
with its `db_worker`, and django-tasks-rq with an RQ worker against the real Redis."""

import json
import os
import socket
from datetime import timedelta

import pytest
import redis
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from standardwebhooks.webhooks import Webhook

from integrations.models import DeliveryStatus, WebhookDelivery
from integrations.webhooks.outbox import webhook_events_record
from tests.integrations.webhooks.webhook_support import (
    Receiver,
    assert_valid_event,
    make_endpoint,
    participation_data,
)

QUEUES = ["default", "webhooks"]
# This suite's own Redis database (flushed by these tests): TEST_RQ_REDIS_URL points it at a
# Redis of one's own when other runs share the machine's.
REDIS_URL = os.environ.get("TEST_RQ_REDIS_URL", "redis://127.0.0.1:6379/5")


def _redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.exceptions.RedisError:
        return False


@pytest.fixture(autouse=True)
def _loopback_receivers_allowed(settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = True


def _record(account, django_capture_on_commit_callbacks, **overrides):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        return webhook_events_record(account=account, participation=participation_data(**overrides))


def _make_due(delivery):
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


def _assert_verified(receiver, endpoint, deliveries):
    assert len(receiver.requests) == len(deliveries)
    for headers, body in receiver.requests:
        assert_valid_event(Webhook(endpoint.secret).verify(body, headers))
    assert {h["webhook-id"] for h, _ in receiver.requests} == {d.event_id for d in deliveries}


# ---------------------------------------------------------------------------- database backend
@pytest.fixture
def database_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": QUEUES}}


def _db_worker():
    call_command(
        "db_worker",
        queue_name="webhooks",
        batch=True,
        reload=False,
        startup_delay=False,
        interval=0,
        verbosity=0,
    )


@pytest.mark.django_db(transaction=True)
def test_database_backend_delivers_through_db_worker(
    account, database_tasks, django_capture_on_commit_callbacks
):
    with Receiver(status=204) as receiver:
        endpoint = make_endpoint(account, url=receiver.url)
        deliveries = _record(account, django_capture_on_commit_callbacks)
        queued = DBTaskResult.objects.filter(queue_name="webhooks")
        assert queued.count() == 2  # one task per delivery

        _db_worker()

    _assert_verified(receiver, endpoint, deliveries)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def _relay_once():
    """One relay pass that only queues what is due: nothing is overdue by its minute of grace."""
    call_command("relay_webhooks", "--once", "--grace", "60", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_database_backend_retry_is_queued_by_the_relay_when_it_comes_due(
    account, database_tasks, django_capture_on_commit_callbacks
):
    with Receiver(status=500) as receiver:
        endpoint = make_endpoint(account, url=receiver.url)
        (delivery,) = _record(account, django_capture_on_commit_callbacks, changed=[])
        _db_worker()
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
        # Nothing waits in the queue for later: the outbox row says when the retry is due.
        assert not DBTaskResult.objects.filter(status="READY").exists()

        _relay_once()  # not due yet: nothing is queued
        assert not DBTaskResult.objects.filter(status="READY").exists()

        receiver.status = 200
        _make_due(delivery)
        _relay_once()
        assert DBTaskResult.objects.filter(status="READY").count() == 1
        _relay_once()  # already queued: not twice
        assert DBTaskResult.objects.filter(status="READY").count() == 1
        _db_worker()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [h["webhook-id"] for h, _ in receiver.requests] == [delivery.event_id] * 2
    Webhook(endpoint.secret).verify(receiver.requests[1][1], receiver.requests[1][0])


# ---------------------------------------------------------------------------- RQ backend
@pytest.fixture
def rq_tasks(settings):
    if not _redis_reachable():
        pytest.skip(f"Redis is not reachable at {REDIS_URL}; the RQ backend tests need it")
    settings.RQ_QUEUES = {name: {"URL": REDIS_URL} for name in QUEUES}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": QUEUES}}
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield connection
    connection.flushdb()


def _rq_worker(connection):
    """A burst of an RQ worker without a scheduler: nothing in this product needs one."""
    import django_rq
    from django_tasks_rq.backend import Job
    from rq import SimpleWorker

    queue = django_rq.get_queue("webhooks", job_class=Job)
    worker = SimpleWorker([queue], connection=connection, job_class=Job)
    worker.work(burst=True, with_scheduler=False, logging_level="WARNING")


@pytest.mark.django_db(transaction=True)
def test_rq_backend_delivers_through_an_rq_worker(
    account, rq_tasks, django_capture_on_commit_callbacks
):
    import django_rq

    with Receiver(status=200) as receiver:
        endpoint = make_endpoint(account, url=receiver.url)
        deliveries = _record(account, django_capture_on_commit_callbacks)
        assert django_rq.get_queue("webhooks").count == 2
        assert receiver.requests == []

        _rq_worker(rq_tasks)

    _assert_verified(receiver, endpoint, deliveries)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.django_db(transaction=True)
def test_rq_retry_needs_no_scheduler_the_relay_queues_it_when_due(
    account, rq_tasks, django_capture_on_commit_callbacks
):
    import django_rq
    from rq.registry import ScheduledJobRegistry

    with Receiver(status=503, headers={"Retry-After": "30"}) as receiver:
        endpoint = make_endpoint(account, url=receiver.url)
        (delivery,) = _record(account, django_capture_on_commit_callbacks, changed=[])
        _rq_worker(rq_tasks)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
        (attempt,) = delivery.attempts.all()
        finished = attempt.started_at + timedelta(milliseconds=attempt.duration_ms)
        wait = (delivery.next_attempt_at - finished).total_seconds()
        assert abs(wait - 30) < 2  # as the receiver asked
        queue = django_rq.get_queue("webhooks")
        # No job waits on RQ's scheduler (one worker holds its lock; if it dies, the others
        # take it over only at their next maintenance, up to ten minutes later).
        assert ScheduledJobRegistry(queue=queue).get_job_ids() == []

        receiver.status = 200
        _make_due(delivery)  # thirty seconds pass
        call_command("relay_webhooks", "--once", "--grace", "60", verbosity=0)
        assert queue.count == 1
        _rq_worker(rq_tasks)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert [h["webhook-id"] for h, _ in receiver.requests] == [delivery.event_id] * 2
    Webhook(endpoint.secret).verify(receiver.requests[1][1], receiver.requests[1][0])
    assert json.loads(receiver.requests[1][1])["type"] == "participation.created"


@pytest.mark.django_db(transaction=True)
def test_with_redis_flushed_the_relay_still_delivers(
    account, rq_tasks, django_capture_on_commit_callbacks
):
    with Receiver(status=200) as receiver:
        make_endpoint(account, url=receiver.url)
        deliveries = _record(account, django_capture_on_commit_callbacks)
        rq_tasks.flushdb()  # the queued tasks are gone
        _rq_worker(rq_tasks)
        assert receiver.requests == []

        call_command("relay_webhooks", "--once", "--grace", "0", verbosity=0)

    assert {h["webhook-id"] for h, _ in receiver.requests} == {d.event_id for d in deliveries}


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_that_is_down_does_not_hold_up_another_account(
    account, other_account, database_tasks, django_capture_on_commit_callbacks
):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
    closed.close()  # nothing listens there: connection refused
    with Receiver(status=204) as receiver:
        make_endpoint(account, url=dead_url)
        healthy = make_endpoint(other_account, url=receiver.url)
        (down,) = _record(account, django_capture_on_commit_callbacks, changed=[])
        (up,) = _record(other_account, django_capture_on_commit_callbacks, changed=[])
        assert DBTaskResult.objects.count() == 2  # each delivery is its own task

        _db_worker()

    down.refresh_from_db()
    up.refresh_from_db()
    assert down.status == DeliveryStatus.PENDING and down.next_attempt_at > timezone.now()
    assert up.status == DeliveryStatus.DELIVERED
    _assert_verified(receiver, healthy, [up])


@pytest.mark.django_db(transaction=True)
def test_a_corrected_prefilled_field_reaches_the_receiver_as_a_verified_profile_update(
    account, database_tasks, django_capture_on_commit_callbacks
):
    with Receiver(status=200) as receiver:
        endpoint = make_endpoint(account, url=receiver.url, events=["profile.updated"])
        _record(
            account,
            django_capture_on_commit_callbacks,
            prefilled={"email": "old@example.com", "city": "Lyon"},
            values={"email": "new@example.com", "city": "Lyon"},
            changed=["email"],
        )
        _db_worker()

    ((headers, body),) = receiver.requests
    event = Webhook(endpoint.secret).verify(body, headers)
    assert_valid_event(event)
    assert event["type"] == "profile.updated"
    assert event["data"]["changes"] == {
        "email": {"before": "old@example.com", "after": "new@example.com"}
    }


@pytest.mark.django_db(transaction=True)
def test_a_queue_that_is_down_fails_nothing_and_the_relay_delivers(
    account, settings, django_capture_on_commit_callbacks
):
    nothing_listens = socket.socket()
    nothing_listens.bind(("127.0.0.1", 0))
    port = nothing_listens.getsockname()[1]
    nothing_listens.close()
    settings.RQ_QUEUES = {name: {"URL": f"redis://127.0.0.1:{port}/0"} for name in QUEUES}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": QUEUES}}
    with Receiver(status=204) as receiver:
        make_endpoint(account, url=receiver.url)
        deliveries = _record(account, django_capture_on_commit_callbacks)  # does not raise
        assert receiver.requests == []

        call_command("relay_webhooks", "--once", "--grace", "0", verbosity=0)

    assert {h["webhook-id"] for h, _ in receiver.requests} == {d.event_id for d in deliveries}
