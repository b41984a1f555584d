"""Sending the outbox: claiming a delivery, one signed POST, recording it, planning the retry.

Every delivery is its own task on the "webhooks" queue and one attempt is bounded (connect 5 s,
read 15 s, 30 s in all); an endpoint has at most WEBHOOK_ENDPOINT_CONCURRENCY deliveries leased at
once, so a receiver that hangs holds that many workers, not all of them, and never delays another
account's deliveries. The task only speeds things up: the outbox row is the source
of truth, and `relay_webhooks` sends whatever is due and was not picked up (a process that died
right after its commit, a worker that was down, a flushed Redis, a worker killed mid-attempt).

A delivery is claimed with a lease (`locked_until` + `lease_token`) before it is sent: with
`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, with a conditional UPDATE elsewhere. Two workers
or relays therefore never send the same attempt. The attempt is counted at claim time (an "in
flight" attempt row), so a worker that dies mid-attempt leaves a lease that runs out and an
attempt that counts: the relay then sends the event again with the same `webhook-id`, on the
retry schedule, until the delivery is delivered or failed.
"""

import logging
import random
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThan
from django.utils import timezone
from django_tasks import task
from requests.auth import HTTPBasicAuth

from .. import egress
from ..fields import UndecryptableSecret, UndecryptableSecretError
from ..models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookAuthType,
    WebhookDelivery,
    WebhookEndpoint,
)
from .endpoints import endpoint_disable, endpoint_signing_secrets
from .payloads import body_bytes
from .retries import MAX_ATTEMPTS, THROTTLE_STATUSES, retry_after, retry_delay
from .signing import signed_headers

logger = logging.getLogger(__name__)
_random = random.SystemRandom()

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
# The whole attempt, however the receiver dribbles its answer.
TOTAL_TIMEOUT = 30.0
# Kept of each answer (and shown, escaped, in the admin).
RESPONSE_BODY_LIMIT = 2048
# Much longer than one attempt can take: a lease that runs out means the worker died.
LEASE = timedelta(minutes=5)
# A task may start a moment before its delivery's time (schedulers round to the second).
TASK_CLOCK_SLACK = timedelta(seconds=2)
# An endpoint failing for this long without a single success is disabled.
DISABLE_AFTER_FAILING_FOR = timedelta(days=5)
# `last_success_at` is kept to this precision.
SUCCESS_RECORDING_INTERVAL = timedelta(minutes=1)
USER_AGENT = "CampaignSSO-Webhooks/1.0"
# A delivery refused because its endpoint is at its concurrency cap is tried again after this.
ENDPOINT_BUSY_DELAY = timedelta(seconds=30)
# PostgreSQL advisory lock namespace of the per-endpoint claim lock ("WH").
_ENDPOINT_LOCK_SPACE = 0x5748
INTERRUPTED_ERROR = (
    "Interrupted: the worker stopped before recording an answer (the receiver may have got it)."
)


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    # Nothing sent: not due, already done, or another worker holds it.
    SKIPPED = "skipped"
    # Nothing sent: the endpoint is switched off; the delivery waits.
    PAUSED = "paused"
    # Nothing sent: the endpoint already has its share of deliveries in flight; tried later.
    BUSY = "busy"


# ---------------------------------------------------------------------------- claiming
def _due(*, now: datetime, due_by: datetime) -> Q:
    return (
        Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=due_by)
        & (Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        & Q(endpoint__is_active=True, endpoint__disabled_at__isnull=True)
    )


def endpoint_concurrency() -> int:
    """How many deliveries of one endpoint may be leased at once (RF-08)."""
    return max(1, int(getattr(settings, "WEBHOOK_ENDPOINT_CONCURRENCY", 2)))


def _endpoint_has_room(*, now: datetime) -> LessThan:
    """The delivery's endpoint has fewer than `endpoint_concurrency()` deliveries leased: one
    receiver that hangs holds that many workers at most, never all of them."""
    leased = (
        WebhookDelivery.objects.filter(endpoint_id=OuterRef("endpoint_id"), locked_until__gt=now)
        .order_by()
        .values("endpoint_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return LessThan(Coalesce(Subquery(leased), 0), endpoint_concurrency())


def _endpoints_lock(endpoint_ids: Iterable[int]) -> None:
    """PostgreSQL: claims for the same endpoint take turns until they commit, so that the next
    one counts the leases the previous one took (the cap holds under concurrency). In endpoint
    order, so that two claims never wait on each other. SQLite applies one UPDATE at a time."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for endpoint_id in sorted(set(endpoint_ids)):
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_ENDPOINT_LOCK_SPACE, endpoint_id % 2**31]
            )


def deliveries_claim(
    *, now: datetime, due_by: datetime, ids: Iterable[int] | None = None, limit: int = 1
) -> list[WebhookDelivery]:
    """Lease up to `limit` due deliveries to this worker; the others skip them meanwhile.

    A delivery whose endpoint already has `WEBHOOK_ENDPOINT_CONCURRENCY` deliveries leased is
    not claimed: it waits for a free slot (its task is queued again a little later, and the
    relay is there too), while other endpoints' deliveries are claimed as usual.

    The attempt is counted here, before anything is sent: an "in flight" attempt row is written
    and `next_attempt_at` is set to when the next attempt would be due if this one never
    reports back. A worker killed mid-send therefore uses up its attempt like a failure does,
    and a delivery whose workers keep dying still follows the retry schedule and ends failed.
    """
    candidates = WebhookDelivery.objects.filter(_due(now=now, due_by=due_by))
    if ids is not None:
        candidates = candidates.filter(pk__in=list(ids))
    token = secrets.token_hex(16)
    locked_until = now + LEASE
    with transaction.atomic():
        _deliveries_exhausted_fail(candidates.filter(attempt_count__gte=MAX_ATTEMPTS), now=now)
        candidates = (
            candidates.filter(attempt_count__lt=MAX_ATTEMPTS)
            .filter(_endpoint_has_room(now=now))
            .order_by("next_attempt_at", "id")
        )
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        picked = list(candidates.values_list("pk", "attempt_count", "endpoint_id")[:limit])
        _endpoints_lock(endpoint_id for _, _, endpoint_id in picked)
        for pk, attempt_count, _ in picked:
            attempts_made = attempt_count + 1
            delay = retry_delay(attempts_made=attempts_made)
            # No row locks (SQLite): the UPDATE repeats the conditions, and the database applies
            # one writer's UPDATE at a time, so a row another worker just leased no longer
            # matches. On PostgreSQL the row is locked and the conditions hold anyway.
            leased = (
                WebhookDelivery.objects.filter(pk=pk, attempt_count=attempt_count)
                .filter(_due(now=now, due_by=due_by))
                # Counts the leases committed meanwhile and the ones this claim just took.
                .filter(_endpoint_has_room(now=now))
                .update(
                    locked_until=locked_until,
                    lease_token=token,
                    attempt_count=attempts_made,
                    next_attempt_at=now + delay if delay is not None else now,
                )
            )
            if not leased:
                continue
            _attempts_interrupted_mark(pk)
            WebhookAttempt.objects.create(
                delivery_id=pk,
                started_at=now,
                in_flight=True,
                lease_token=token,
                error="In flight: sending.",
            )
    return list(
        WebhookDelivery.objects.select_related("endpoint")
        .filter(lease_token=token, locked_until=locked_until)
        .order_by("next_attempt_at", "id")
    )


def _attempts_interrupted_mark(delivery_id: int) -> None:
    """A previous claim's attempt still in flight: its worker died (or its lease ran out)."""
    WebhookAttempt.objects.filter(delivery_id=delivery_id, in_flight=True).update(
        in_flight=False, error=INTERRUPTED_ERROR
    )


def _deliveries_exhausted_fail(deliveries, *, now: datetime) -> None:
    """Due deliveries that used every attempt: the last one was interrupted (a finished last
    attempt marks the delivery delivered or failed itself)."""
    for pk, event_id, endpoint_id in deliveries.values_list("pk", "event_id", "endpoint_id"):
        failed = (
            WebhookDelivery.objects.filter(pk=pk)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .update(
                status=DeliveryStatus.FAILED,
                locked_until=None,
                lease_token="",
                last_error=INTERRUPTED_ERROR,
            )
        )
        if failed:
            _attempts_interrupted_mark(pk)
            logger.warning(
                "Webhook delivery %s to endpoint %s failed: its last attempt was interrupted",
                event_id,
                endpoint_id,
            )


# ---------------------------------------------------------------------------- one attempt
def _auth(endpoint: WebhookEndpoint) -> tuple[HTTPBasicAuth | None, dict[str, str]]:
    if endpoint.auth_type == WebhookAuthType.NONE:
        return None, {}
    secret = endpoint.auth_secret
    if isinstance(secret, UndecryptableSecret):
        raise UndecryptableSecretError(
            "The extra authentication secret cannot be decrypted; enter it again."
        )
    if endpoint.auth_type == WebhookAuthType.BASIC:
        return HTTPBasicAuth(endpoint.auth_username, secret or ""), {}
    if endpoint.auth_type == WebhookAuthType.BEARER:
        return None, {"Authorization": f"Bearer {secret}"}
    return None, {endpoint.auth_header_name: secret or ""}


def _request(delivery: WebhookDelivery, *, attempted_at: datetime):
    """POST the delivery; returns (response or None, error text)."""
    endpoint = delivery.endpoint
    body = body_bytes(delivery.payload)
    try:
        auth, auth_headers = _auth(endpoint)
        headers = {
            **auth_headers,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signed_headers(
                secrets=endpoint_signing_secrets(endpoint=endpoint, now=attempted_at),
                message_id=delivery.event_id,
                timestamp=int(attempted_at.timestamp()),
                body=body,
            ),
        }
    except UndecryptableSecretError as exc:
        return None, str(exc)
    try:
        response = egress.send(
            "POST",
            endpoint.url,
            purpose=egress.Purpose.WEBHOOK,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            total_timeout=TOTAL_TIMEOUT,
            max_bytes=RESPONSE_BODY_LIMIT,
            truncate=True,
            headers=headers,
            data=body,
            auth=auth,
        )
    except egress.EgressError as exc:
        return None, str(exc)
    return response, ""


def delivery_attempt(*, delivery: WebhookDelivery) -> DeliveryOutcome:
    """Send a delivery this worker has claimed, record the attempt, plan what comes next."""
    endpoint = delivery.endpoint
    if not (endpoint.is_active and endpoint.disabled_at is None):
        _release(delivery)
        return DeliveryOutcome.PAUSED
    attempted_at = timezone.now()
    response, error = _request(delivery, attempted_at=attempted_at)
    finished_at = timezone.now()
    status_code = response.status_code if response is not None else None
    # Counted when it was claimed.
    attempts_made = delivery.attempt_count

    update = {
        "last_status_code": status_code,
        "locked_until": None,
        "lease_token": "",
    }
    disable_reason = ""
    next_attempt_at = None
    if status_code is not None and 200 <= status_code < 300:
        outcome = DeliveryOutcome.DELIVERED
        update.update(status=DeliveryStatus.DELIVERED, delivered_at=finished_at, last_error="")
    elif status_code == 410:
        outcome = DeliveryOutcome.FAILED
        error = "The receiver answered 410 Gone: the endpoint was disabled."
        disable_reason = "The receiver answered 410 Gone (it no longer wants these events)."
        update.update(status=DeliveryStatus.FAILED, last_error=error)
    else:
        if status_code is not None and 300 <= status_code < 400:
            location = response.headers.get("Location", "")[:200]
            error = f"HTTP {status_code}: redirects are not followed ({location or 'no Location'})."
        elif status_code is not None:
            error = f"HTTP {status_code}."
        delay = retry_delay(attempts_made=attempts_made)
        if delay is not None and status_code in THROTTLE_STATUSES:
            delay = retry_after(response.headers.get("Retry-After"), now=finished_at) or delay
        if delay is None:
            outcome = DeliveryOutcome.FAILED
            update.update(status=DeliveryStatus.FAILED, last_error=error[:500])
            logger.warning(
                "Webhook delivery %s to endpoint %s failed after %s attempts: %s",
                delivery.event_id,
                endpoint.pk,
                attempts_made,
                error,
            )
        else:
            outcome = DeliveryOutcome.RETRY_SCHEDULED
            next_attempt_at = finished_at + delay
            update.update(next_attempt_at=next_attempt_at, last_error=error[:500])

    with transaction.atomic():
        # The delivery row first, then its attempt: the order a claim locks them in, so that a
        # worker whose lease ran out and the claim that took over never deadlock.
        kept = WebhookDelivery.objects.filter(
            pk=delivery.pk, lease_token=delivery.lease_token
        ).update(**update)
        recorded = {
            "started_at": attempted_at,
            "duration_ms": response.elapsed_ms
            if response is not None
            else int((finished_at - attempted_at).total_seconds() * 1000),
            "status_code": status_code,
            "error": error[:500],
            "response_body": response.text[:RESPONSE_BODY_LIMIT] if response is not None else "",
            "in_flight": False,
        }
        # The row written at claim time (even if a later claim marked it interrupted: this is
        # what really happened).
        if not WebhookAttempt.objects.filter(
            delivery=delivery, lease_token=delivery.lease_token
        ).update(**recorded):
            WebhookAttempt.objects.create(
                delivery=delivery, lease_token=delivery.lease_token, **recorded
            )
        if not kept:
            # Our lease ran out and another worker took over: its outcome stands.
            logger.warning("Webhook delivery %s: lease lost during the attempt", delivery.event_id)
            return outcome
        if outcome is DeliveryOutcome.DELIVERED:
            if _success_worth_recording(endpoint, at=finished_at):
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                    last_success_at=finished_at, failing_since=None
                )
        else:
            _endpoint_failed(endpoint.pk, at=attempted_at, gone_reason=disable_reason)
    if next_attempt_at is not None:
        delivery_enqueue(delivery_id=delivery.pk, run_after=next_attempt_at)
    return outcome


def _success_worth_recording(endpoint: WebhookEndpoint, *, at: datetime) -> bool:
    """Skip rewriting the endpoint row after every success of a busy endpoint: workers draining
    a backlog would all queue on that one row's lock."""
    return (
        endpoint.failing_since is not None
        or endpoint.last_success_at is None
        or at - endpoint.last_success_at > SUCCESS_RECORDING_INTERVAL
    )


def _endpoint_failed(endpoint_id: int, *, at: datetime, gone_reason: str) -> None:
    if gone_reason:
        endpoint_disable(endpoint_id=endpoint_id, reason=gone_reason)
        return
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
        failing_since=at
    )
    failing_too_long = WebhookEndpoint.objects.filter(
        pk=endpoint_id, failing_since__lte=at - DISABLE_AFTER_FAILING_FOR
    ).filter(Q(last_success_at__isnull=True) | Q(last_success_at__lt=F("failing_since")))
    if failing_too_long.exists():
        days = DISABLE_AFTER_FAILING_FOR.days
        endpoint_disable(
            endpoint_id=endpoint_id,
            reason=f"No successful delivery for {days} days.",
        )


def _release(delivery: WebhookDelivery) -> None:
    """Give back a claim that sent nothing: the attempt it counted did not happen."""
    with transaction.atomic():
        released = WebhookDelivery.objects.filter(
            pk=delivery.pk, lease_token=delivery.lease_token
        ).update(
            locked_until=None,
            lease_token="",
            attempt_count=F("attempt_count") - 1,
            next_attempt_at=timezone.now(),
        )
        if released:
            WebhookAttempt.objects.filter(
                delivery=delivery, lease_token=delivery.lease_token, in_flight=True
            ).delete()


# ---------------------------------------------------------------------------- the task
@task(queue_name="webhooks")
def deliver_webhook(delivery_id: int) -> str:
    """Make one attempt at a delivery, if it is due and nobody else is at it."""
    now = timezone.now()
    due_by = now + TASK_CLOCK_SLACK
    claimed = deliveries_claim(now=now, due_by=due_by, ids=[delivery_id])
    if not claimed:
        waiting = WebhookDelivery.objects.filter(
            _due(now=now, due_by=due_by), pk=delivery_id, attempt_count__lt=MAX_ATTEMPTS
        )
        if waiting.exists():  # due and free, so its endpoint is at its cap
            delay = ENDPOINT_BUSY_DELAY.total_seconds() * _random.uniform(1, 1.5)
            delivery_enqueue(delivery_id=delivery_id, run_after=now + timedelta(seconds=delay))
            return DeliveryOutcome.BUSY.value
        return DeliveryOutcome.SKIPPED.value
    return delivery_attempt(delivery=claimed[0]).value


def delivery_enqueue(*, delivery_id: int, run_after: datetime | None = None) -> None:
    """Hand a delivery to the task queue. A queue that is down or cannot wait is no loss: the
    outbox row stays due, and `relay_webhooks` sends it."""
    try:
        if run_after is None:
            deliver_webhook.enqueue(delivery_id)
        elif deliver_webhook.get_backend().supports_defer:
            deliver_webhook.using(run_after=run_after).enqueue(delivery_id)
    except Exception:
        # Broad on purpose: whatever the backend raises (Redis down, a misconfigured queue), the
        # committed outbox row is the guarantee, not this call.
        logger.warning("Webhook delivery %s could not be queued", delivery_id, exc_info=True)


# ---------------------------------------------------------------------------- the relay
def deliveries_relay(*, grace: timedelta, limit: int = 1000) -> dict[DeliveryOutcome, int]:
    """Send deliveries that have been due for longer than `grace` (their task was lost), one
    claim at a time so that a lease never waits behind other sends. Returns counts by outcome."""
    counts: dict[DeliveryOutcome, int] = {}
    for _ in range(limit):
        now = timezone.now()
        claimed = deliveries_claim(now=now, due_by=now - grace)
        if not claimed:
            break
        outcome = delivery_attempt(delivery=claimed[0])
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
