"""Writing to the outbox: the events API the rest of the product calls, resend and test events.

Rows are written in the caller's transaction, marked as queued (`queued_at`); the task is queued
only once it commits. If the transaction rolls back, there is nothing to send; if the process
dies right after the commit, the row is still there and `relay_webhooks` sends it.
"""

import logging
from collections.abc import Mapping, Sequence
from functools import partial

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account
from core.statements import rows_values
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from integrations.webhooks.payloads import (
    TEST_EVENT,
    body_bytes,
    participant_erased_payload,
    participation_created_payload,
    profile_updated_payload,
    webhook_test_payload,
)
from integrations.webhooks.signing import message_id_generate
from integrations.webhooks.tasks import deliveries_enqueue

logger = logging.getLogger(__name__)

# "Send test event" clicks allowed per endpoint per minute.
TEST_EVENTS_PER_MINUTE = 5
# An event body larger than this is not recorded (WEBHOOK_MAX_PAYLOAD_BYTES overrides it).
DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024


class WebhookOutboxError(Exception):
    """Events were recorded outside the transaction that produced them."""


class TestEventRateLimitError(Exception):
    """Too many test events for one endpoint in a minute."""

    __test__ = False  # not a pytest test class, despite the name


def payload_max_bytes() -> int:
    """The largest event body recorded (WH-04)."""
    return int(getattr(settings, "WEBHOOK_MAX_PAYLOAD_BYTES", DEFAULT_MAX_PAYLOAD_BYTES))


def _size_acceptable(payload: dict, *, participation: Mapping) -> bool:
    """False, with a warning, for an event whose body exceeds WEBHOOK_MAX_PAYLOAD_BYTES: it is
    not recorded, and the participation is stored as usual (it stays in the admin and its
    exports). Nothing is truncated: a receiver would take a cut value for the
    participant's answer."""
    size = len(body_bytes(payload))
    limit = payload_max_bytes()
    if size <= limit:
        return True
    campaign = participation.get("campaign") or {}
    logger.warning(
        "Webhook event %s of participation %s (campaign %s) not recorded: its body is %s bytes, "
        "over WEBHOOK_MAX_PAYLOAD_BYTES=%s",
        payload["type"],
        participation.get("id"),
        campaign.get("id"),
        size,
        limit,
    )
    return False


def _enqueue_on_commit(deliveries: list[WebhookDelivery]) -> None:
    """The rows were written with `queued_at` set: the relay leaves them to these tasks (or to
    the worker draining their endpoint, see `deliveries_enqueue`)."""
    if deliveries:
        # robust: a queue that refuses the task must not fail the caller's request.
        transaction.on_commit(
            partial(deliveries_enqueue, delivery_ids=[d.pk for d in deliveries]), robust=True
        )


def webhook_events_record(
    *, account: Account | int, participation: Mapping
) -> list[WebhookDelivery]:
    """Record `participation.created` (and `profile.updated` when a submitted value differs
    from what the IdP gave) for every usable endpoint of the account subscribed to it.

    Call it inside the transaction that saves the participation. `participation` is plain data:

        {"id": 42, "submitted_at": datetime,
         "campaign": {"id": 7, "slug": "summer", "title": "Summer contest"},
         "participant": {"subject": "248289761001", "issuer": "https://idp.example.com",
                         "integration_id": 3} or None,
         "values": {"firstname": "Jane", "email": "jane@example.com"},   # submitted
         "prefilled": {"firstname": "Janet"},                              # from the IdP
         "changed": ["firstname", "phone"]}  # differ from the IdP's (phone: it had none)

    An event whose JSON body exceeds WEBHOOK_MAX_PAYLOAD_BYTES is left out with a warning.
    Raises WebhookOutboxError outside a transaction, WebhookEventError on incomplete data.
    """
    if not transaction.get_connection().in_atomic_block:
        raise WebhookOutboxError(
            "webhook_events_record() must run inside the transaction that saves the "
            "participation (transaction.atomic), or an event could be lost or sent for nothing."
        )
    now = timezone.now()
    payloads = [
        payload
        for payload in (
            participation_created_payload(participation=participation, occurred_at=now),
            profile_updated_payload(participation=participation, occurred_at=now),
        )
        if payload is not None and _size_acceptable(payload, participation=participation)
    ]
    return _deliveries_record(account=account, payloads=payloads, now=now)


def _in_transaction(what: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise WebhookOutboxError(
            f"{what} must run inside the transaction that changes the data it announces "
            "(transaction.atomic), or an event could be lost or sent for nothing."
        )


def _deliveries_record(*, account: Account | int, payloads: list[dict], now) -> list:
    """One delivery per usable endpoint of the account subscribed to each payload's event."""
    account_id = account if isinstance(account, int) else account.pk
    # Two columns through the cursor: every participation asks, and the ORM's query of every
    # column (three of them encrypted) cost more than the rest of recording it.
    endpoints = rows_values(
        WebhookEndpoint,
        ("id", "events"),
        account_id=account_id,
        is_active=True,
        disabled_at__isnull=True,
    )
    deliveries = [
        WebhookDelivery(
            endpoint_id=endpoint_id,
            event_id=message_id_generate(),
            event_type=payload["type"],
            payload=payload,
            next_attempt_at=now,
            queued_at=now,
        )
        for endpoint_id, events in endpoints
        for payload in payloads
        if payload["type"] in (events or [])
    ]
    WebhookDelivery.objects.bulk_create(deliveries)
    _enqueue_on_commit(deliveries)
    return deliveries


def webhook_participant_erased_record(
    *, account: Account | int, participant: Mapping, participation_ids: Sequence[int]
) -> list[WebhookDelivery]:
    """Record `participant.erased` for every usable endpoint of the account subscribed to it.

    Call it inside the transaction that erases the participant. `participant` is plain data,
    `{"subject": …, "issuer": …, "integration_id": …}`; `participation_ids` the participations
    that went with them. Raises WebhookOutboxError outside a transaction.
    """
    _in_transaction("webhook_participant_erased_record()")
    now = timezone.now()
    payload = participant_erased_payload(
        participant=participant, participation_ids=participation_ids, occurred_at=now
    )
    return _deliveries_record(account=account, payloads=[payload], now=now)


@transaction.atomic
def delivery_resend(*, delivery: WebhookDelivery) -> bool:
    """Send a delivery again from the start of the schedule, with the same `webhook-id`.
    False when a worker is sending it right now."""
    now = timezone.now()
    resent = (
        WebhookDelivery.objects.filter(pk=delivery.pk)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(
            status=DeliveryStatus.PENDING,
            attempt_count=0,
            next_attempt_at=now,
            delivered_at=None,
            locked_until=None,
            lease_token="",
            queued_at=now,
        )
    )
    if resent:
        _enqueue_on_commit([delivery])
    return bool(resent)


@transaction.atomic
def webhook_test_send(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `webhook.test` event to the endpoint; raises TestEventRateLimitError."""
    key = f"webhooks:test-events:{endpoint.pk}"
    cache.add(key, 0, timeout=60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=60)
        count = 1
    if count > TEST_EVENTS_PER_MINUTE:
        raise TestEventRateLimitError(
            f"At most {TEST_EVENTS_PER_MINUTE} test events per minute; try again shortly."
        )
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=message_id_generate(),
        event_type=TEST_EVENT,
        payload=webhook_test_payload(endpoint_id=endpoint.pk, occurred_at=now),
        next_attempt_at=now,
        queued_at=now,
        is_test=True,
    )
    _enqueue_on_commit([delivery])
    return delivery
