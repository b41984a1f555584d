"""`purge_webhook_deliveries`: old finished deliveries go, pending ones never do."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from integrations.webhooks.signing import message_id_generate
from tests.integrations.webhooks.webhook_support import make_endpoint


def _delivery(endpoint, *, age_days: float, status=DeliveryStatus.DELIVERED, attempt_age=None):
    created = timezone.now() - timedelta(days=age_days)
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=message_id_generate(),
        event_type="participation.created",
        payload={"type": "participation.created"},
        status=status,
        next_attempt_at=created,
        delivered_at=created if status == DeliveryStatus.DELIVERED else None,
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=created)  # auto_now_add
    WebhookAttempt.objects.create(
        delivery=delivery,
        started_at=timezone.now()
        - timedelta(days=age_days if attempt_age is None else attempt_age),
        status_code=200,
    )
    return delivery


def _purge(*args) -> str:
    out = StringIO()
    call_command("purge_webhook_deliveries", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_old_delivered_and_failed_deliveries_go_with_their_attempts(account):
    endpoint = make_endpoint(account)
    old_delivered = _delivery(endpoint, age_days=40)
    old_failed = _delivery(endpoint, age_days=40, status=DeliveryStatus.FAILED)
    old_pending = _delivery(endpoint, age_days=40, status=DeliveryStatus.PENDING)
    recent = _delivery(endpoint, age_days=5)
    # Old, but failed again after a recent resend: its log is still of interest.
    resent = _delivery(endpoint, age_days=40, status=DeliveryStatus.FAILED, attempt_age=2)

    output = _purge("--days", "30")

    remaining = set(WebhookDelivery.objects.values_list("pk", flat=True))
    assert remaining == {old_pending.pk, recent.pk, resent.pk}
    assert not WebhookAttempt.objects.filter(delivery_id__in=[old_delivered.pk, old_failed.pk])
    assert WebhookAttempt.objects.count() == 3
    assert "Deleted 2 webhook deliveries and 2 attempts" in output


@pytest.mark.django_db
def test_the_default_comes_from_webhook_retention_days(account, settings):
    endpoint = make_endpoint(account)
    _delivery(endpoint, age_days=31)
    kept = _delivery(endpoint, age_days=8)

    settings.WEBHOOK_RETENTION_DAYS = 10
    _purge()
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [kept.pk]

    del settings.WEBHOOK_RETENTION_DAYS  # the built-in default: 30 days
    _purge()
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.django_db
def test_pending_deliveries_are_never_purged_even_with_zero_days(account):
    endpoint = make_endpoint(account)
    pending = _delivery(endpoint, age_days=400, status=DeliveryStatus.PENDING)
    _delivery(endpoint, age_days=1)

    _purge("--days", "0")

    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [pending.pk]
    with pytest.raises(CommandError):
        _purge("--days", "-1")
