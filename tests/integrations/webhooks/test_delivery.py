"""One attempt and what follows it: success, redirects, 410, throttling, retries, auto-disable."""

import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
from django.core import mail
from django.db import transaction
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.models import Role
from integrations.models import DeliveryStatus, WebhookAuthType, WebhookDelivery
from integrations.webhooks.attempts import DeliveryOutcome
from integrations.webhooks.endpoints import ROTATION_WINDOW, endpoint_enable, endpoint_secret_rotate
from integrations.webhooks.outbox import webhook_events_record
from integrations.webhooks.retries import MAX_ATTEMPTS, RETRY_DELAYS, retry_after, retry_delay
from integrations.webhooks.tasks import deliver_webhook
from tests.factories import make_member
from tests.integrations.webhooks.webhook_support import (
    HOOK_URL,
    IMMEDIATE_TASKS,
    make_endpoint,
    participation_data,
)


@pytest.fixture(autouse=True)
def _immediate_tasks(settings):
    settings.TASKS = IMMEDIATE_TASKS


@pytest.fixture
def endpoint(account):
    return make_endpoint(account)


def _pending(account) -> WebhookDelivery:
    """One participation.created waiting in the outbox (its task lost)."""
    with transaction.atomic():
        (delivery,) = webhook_events_record(
            account=account, participation=participation_data(changed=[])
        )
    return delivery


def _attempt(delivery: WebhookDelivery) -> str:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    outcome = deliver_webhook.call(delivery.pk)
    delivery.refresh_from_db()
    return outcome


@responses.activate
@pytest.mark.django_db
@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_delivered_and_the_attempt_recorded(account, endpoint, status):
    answer = "" if status == 204 else "thanks"
    responses.post(HOOK_URL, status=status, body=answer)
    delivery = _pending(account)

    assert _attempt(delivery) == DeliveryOutcome.DELIVERED

    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.delivered_at is not None
    (attempt,) = delivery.attempts.all()
    assert attempt.status_code == status
    assert attempt.response_body == answer
    assert attempt.duration_ms is not None
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None
    assert endpoint.failing_since is None


@responses.activate
@pytest.mark.django_db
def test_the_exact_bytes_signed_are_the_bytes_sent(account, endpoint):
    responses.post(HOOK_URL, status=204)
    delivery = _pending(account)
    _attempt(delivery)

    request = responses.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["webhook-id"] == delivery.event_id
    Webhook(endpoint.secret).verify(request.body, request.headers)


@responses.activate
@pytest.mark.django_db
@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_3xx_is_a_failure_and_never_followed(account, endpoint, status):
    responses.post(HOOK_URL, status=status, headers={"Location": "http://169.254.169.254/"})
    delivery = _pending(account)

    assert _attempt(delivery) == DeliveryOutcome.RETRY_SCHEDULED

    assert len(responses.calls) == 1
    assert delivery.status == DeliveryStatus.PENDING
    assert "redirects are not followed" in delivery.last_error


@responses.activate
@pytest.mark.django_db
def test_410_disables_the_endpoint_and_tells_the_administrators(
    account, endpoint, caplog, django_capture_on_commit_callbacks
):
    make_member(account, Role.ADMINISTRATOR, username="boss", email="boss@example.com")
    make_member(account, Role.EDITOR, username="ed", email="ed@example.com")
    responses.post(HOOK_URL, status=410)
    delivery = _pending(account)

    with (
        caplog.at_level(logging.WARNING, logger="integrations.webhooks"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert _attempt(delivery) == DeliveryOutcome.FAILED

    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None
    assert "410" in endpoint.disabled_reason
    assert delivery.status == DeliveryStatus.FAILED
    assert "disabled" in caplog.text
    (message,) = mail.outbox
    assert message.to == ["boss@example.com"]
    assert endpoint.url in message.subject
    # No new events go to a disabled endpoint.
    with transaction.atomic():
        assert webhook_events_record(account=account, participation=participation_data()) == []


@responses.activate
@pytest.mark.django_db
def test_deliveries_wait_while_the_endpoint_is_disabled_and_go_once_re_enabled(account, endpoint):
    responses.post(HOOK_URL, status=200)
    delivery = _pending(account)
    endpoint.disabled_at = timezone.now()
    endpoint.save()

    assert _attempt(delivery) == DeliveryOutcome.SKIPPED
    assert len(responses.calls) == 0

    assert endpoint_enable(endpoint=endpoint) == 1
    assert deliver_webhook.call(delivery.pk) == DeliveryOutcome.DELIVERED


@responses.activate
@pytest.mark.django_db
@pytest.mark.parametrize("status", [429, 503])
def test_throttling_honours_retry_after_in_seconds(account, endpoint, status):
    responses.post(HOOK_URL, status=status, headers={"Retry-After": "120"})
    delivery = _pending(account)
    before = timezone.now()

    assert _attempt(delivery) == DeliveryOutcome.RETRY_SCHEDULED

    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 119 <= wait <= 125


@responses.activate
@pytest.mark.django_db
def test_throttling_honours_retry_after_as_an_http_date(account, endpoint):
    later = timezone.now() + timedelta(minutes=10)
    responses.post(HOOK_URL, status=503, headers={"Retry-After": format_datetime(later, True)})
    delivery = _pending(account)

    _attempt(delivery)

    assert abs((delivery.next_attempt_at - later).total_seconds()) < 3


def test_retry_after_is_capped_and_unreadable_values_are_ignored():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after("99999999", now=now) == timedelta(hours=24)
    assert retry_after("soon", now=now) is None
    assert retry_after("", now=now) is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == timedelta(0)


def test_retry_schedule_with_jitter_then_give_up():
    expected = [timedelta(0), *RETRY_DELAYS]
    assert [d.total_seconds() for d in expected] == [
        0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400,
    ]  # fmt: skip
    assert MAX_ATTEMPTS == 10
    for attempts_made, base in enumerate(RETRY_DELAYS, start=1):
        delays = {retry_delay(attempts_made=attempts_made) for _ in range(20)}
        assert all(base * 0.9 <= d <= base * 1.1 for d in delays)
        assert len(delays) > 1  # jittered
    assert retry_delay(attempts_made=MAX_ATTEMPTS) is None


@responses.activate
@pytest.mark.django_db
def test_failures_follow_the_schedule_then_the_delivery_is_marked_failed(account, endpoint):
    responses.post(HOOK_URL, status=500, body="<h1>oops</h1>")
    delivery = _pending(account)

    waits = []
    for _ in range(MAX_ATTEMPTS - 1):
        before = timezone.now()
        assert _attempt(delivery) == DeliveryOutcome.RETRY_SCHEDULED
        waits.append((delivery.next_attempt_at - before).total_seconds())
    assert _attempt(delivery) == DeliveryOutcome.FAILED

    for wait, base in zip(waits, RETRY_DELAYS, strict=True):
        assert base.total_seconds() * 0.89 <= wait <= base.total_seconds() * 1.11 + 1
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempt_count == MAX_ATTEMPTS
    assert delivery.attempts.count() == MAX_ATTEMPTS
    assert delivery.last_status_code == 500
    ids = {call.request.headers["webhook-id"] for call in responses.calls}
    assert ids == {delivery.event_id}  # the same webhook-id on every retry


@responses.activate
@pytest.mark.django_db
def test_each_retry_has_a_new_timestamp_and_signature(account, endpoint):
    responses.post(HOOK_URL, status=500)
    delivery = _pending(account)
    _attempt(delivery)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    first_ts = int(responses.calls[0].request.headers["webhook-timestamp"])
    # Force a different second for the second attempt.
    while int(timezone.now().timestamp()) == first_ts:
        pass
    _attempt(delivery)

    first, second = (call.request.headers for call in responses.calls)
    assert first["webhook-id"] == second["webhook-id"]
    assert first["webhook-timestamp"] != second["webhook-timestamp"]
    assert first["webhook-signature"] != second["webhook-signature"]


@responses.activate
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("exception", "reason"),
    [
        (requests.exceptions.ReadTimeout(), "read timeout"),
        (requests.exceptions.ConnectTimeout(), "timed out"),
        (requests.exceptions.ConnectionError(), "connection failed"),
    ],
)
def test_timeouts_and_connection_errors_are_retried(account, endpoint, exception, reason):
    responses.post(HOOK_URL, body=exception)
    delivery = _pending(account)

    assert _attempt(delivery) == DeliveryOutcome.RETRY_SCHEDULED

    (attempt,) = delivery.attempts.all()
    assert attempt.status_code is None
    assert reason in attempt.error.lower()


@responses.activate
@pytest.mark.django_db
def test_an_endpoint_failing_for_five_days_without_success_is_disabled(account, endpoint):
    responses.post(HOOK_URL, status=500)
    endpoint.failing_since = timezone.now() - timedelta(days=4, hours=23)
    endpoint.save()
    _attempt(_pending(account))
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None

    endpoint.failing_since = timezone.now() - timedelta(days=5, seconds=1)
    endpoint.save()
    _attempt(_pending(account))

    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None
    assert "5 days" in endpoint.disabled_reason


@responses.activate
@pytest.mark.django_db
def test_a_success_clears_the_failing_streak(account, endpoint):
    endpoint.failing_since = timezone.now() - timedelta(days=3)
    endpoint.save()
    responses.post(HOOK_URL, status=200)
    _attempt(_pending(account))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


@responses.activate
@pytest.mark.django_db
def test_only_the_first_2_kb_of_a_huge_answer_are_kept(account, endpoint):
    responses.post(HOOK_URL, status=500, body=b"<script>" + b"x" * 5_000_000)
    delivery = _pending(account)
    _attempt(delivery)
    (attempt,) = delivery.attempts.all()
    assert len(attempt.response_body) == 2048
    assert attempt.response_body.startswith("<script>")


@responses.activate
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("auth_type", "fields", "expected_header"),
    [
        (
            WebhookAuthType.BASIC,
            {"auth_username": "campaigns", "auth_secret": "p@ss:word"},
            ("Authorization", "Basic Y2FtcGFpZ25zOnBAc3M6d29yZA=="),
        ),
        (
            WebhookAuthType.BEARER,
            {"auth_secret": "tok-123"},
            ("Authorization", "Bearer tok-123"),
        ),
        (
            WebhookAuthType.HEADER,
            {"auth_header_name": "X-Api-Key", "auth_secret": "k-456"},
            ("X-Api-Key", "k-456"),
        ),
    ],
)
def test_extra_authentication_is_sent(account, auth_type, fields, expected_header):
    make_endpoint(account, auth_type=auth_type, **fields)
    responses.post(HOOK_URL, status=204)
    delivery = _pending(account)
    _attempt(delivery)
    name, value = expected_header
    assert responses.calls[0].request.headers[name] == value
    assert fields["auth_secret"] not in delivery.attempts.get().error


@responses.activate
@pytest.mark.django_db
def test_after_rotation_both_secrets_sign_until_the_window_ends(account, endpoint):
    old_secret = endpoint.secret
    new_secret = endpoint_secret_rotate(endpoint=endpoint)
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    responses.post(HOOK_URL, status=204)

    _attempt(_pending(account))
    headers = responses.calls[0].request.headers
    assert len(headers["webhook-signature"].split()) == 2
    Webhook(new_secret).verify(responses.calls[0].request.body, headers)
    Webhook(old_secret).verify(responses.calls[0].request.body, headers)

    endpoint.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    endpoint.save()
    _attempt(_pending(account))
    assert len(responses.calls[1].request.headers["webhook-signature"].split()) == 1
    assert timedelta(hours=24) == ROTATION_WINDOW


@responses.activate
@pytest.mark.django_db
def test_an_undecryptable_secret_fails_the_attempt_without_sending(account, endpoint, settings):
    delivery = _pending(account)
    settings.FIELD_ENCRYPTION_KEY = ["bm90LXRoZS1yaWdodC1rZXktYnV0LTMyLWJ5dGVzLi4="]

    assert _attempt(delivery) == DeliveryOutcome.RETRY_SCHEDULED

    assert len(responses.calls) == 0
    assert "cannot be decrypted" in delivery.attempts.get().error


@responses.activate
@pytest.mark.django_db
def test_a_url_that_became_private_is_refused_at_send_time(account, settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = False
    make_endpoint(account, url="https://127.0.0.1/hook")  # saved before the rules tightened
    delivery = _pending(account)

    assert _attempt(delivery) == DeliveryOutcome.RETRY_SCHEDULED

    assert len(responses.calls) == 0
    assert "not allowed" in delivery.attempts.get().error


@responses.activate
@pytest.mark.django_db
def test_a_task_for_a_delivery_that_is_not_due_does_nothing(account, endpoint):
    responses.post(HOOK_URL, status=200)
    delivery = _pending(account)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert deliver_webhook.call(delivery.pk) == DeliveryOutcome.SKIPPED
    assert _attempt(delivery) == DeliveryOutcome.DELIVERED
    assert deliver_webhook.call(delivery.pk) == DeliveryOutcome.SKIPPED
    assert len(responses.calls) == 1
