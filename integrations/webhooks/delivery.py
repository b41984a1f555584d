"""Sending the outbox: claiming a delivery, one signed POST, recording it, queueing what is due.

Every delivery is its own task on the "webhooks" queue and one attempt is bounded (connect 5 s,
read 15 s, 30 s in all); an endpoint has at most WEBHOOK_ENDPOINT_CONCURRENCY deliveries leased at
once, so a receiver that hangs holds that many workers, not all of them, and never delays another
account's deliveries. The task only speeds things up: the outbox row is the source of truth.

A delivery is claimed with a lease (`locked_until` + `lease_token`) before it is sent: with
`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, with a conditional UPDATE elsewhere. Two workers
or relays therefore never send the same attempt. The lease is short (`LEASE`) and renewed every few
seconds while the attempt runs, so a worker that dies mid-attempt stops holding its delivery and
its endpoint's slot within seconds. The attempt is counted at claim time (an "in flight" attempt
row), so a worker that keeps dying on a delivery uses up its attempts like failures do.

Nothing waits in the queue for later: a task is queued when its delivery is due (on commit, or by
`relay_webhooks`, which queues what has come due every second: retries, deliveries whose worker
died, deliveries that waited for a slot of their endpoint), and a delivery has one queued task at
most (`queued_at`). Retries therefore depend on no scheduler process, and a task that finds its
endpoint at its cap ends without queueing itself again: the endpoint's next free slot is handed
to a waiting delivery by the worker that frees it, or by the relay. The relay also sends itself
whatever has been due for a while and was not picked up (a process that died right after its
commit, a queue that is down or was flushed).
"""

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber
from django.db.models.lookups import LessThan
from django.utils import timezone
from django_tasks import task
from requests.auth import HTTPBasicAuth

from integrations.egress.policy import EgressError, Purpose
from integrations.egress.transport import send
from integrations.fields import UndecryptableSecret, UndecryptableSecretError
from integrations.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookAuthType,
    WebhookDelivery,
    WebhookEndpoint,
)
from integrations.webhooks.endpoints import endpoint_disable, endpoint_signing_secrets
from integrations.webhooks.payloads import body_bytes
from integrations.webhooks.retries import MAX_ATTEMPTS, THROTTLE_STATUSES, retry_after, retry_delay
from integrations.webhooks.signing import signed_headers

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
# The whole attempt, however the receiver dribbles its answer.
TOTAL_TIMEOUT = 30.0
# Kept of each answer (and shown, escaped, in the admin).
RESPONSE_BODY_LIMIT = 2048
# A claim holds its delivery (and a slot of its endpoint) this long, renewed every
# LEASE_RENEWAL while the attempt runs: a lease that lapses means the worker died or hung.
LEASE = timedelta(seconds=15)
LEASE_RENEWAL = timedelta(seconds=5)
# Renewals stop this long after the claim even if the attempt has not ended (the request itself
# is cut at TOTAL_TIMEOUT): a worker stuck elsewhere lets its delivery go.
LEASE_RENEWED_AT_MOST = timedelta(seconds=TOTAL_TIMEOUT) + timedelta(seconds=15)
# A queued task that has not run after this long is taken for lost (a flushed queue, a worker
# killed before it started): it no longer counts as its endpoint's, and the relay sends the
# delivery itself once it is overdue by its grace.
QUEUED_TASK_LOST_AFTER = timedelta(seconds=60)
# Deliveries queued by one dispatch, at most (every endpoint gets its share, see dispatch).
DISPATCH_LIMIT = 500
# While the relay sends overdue deliveries itself, it still queues what comes due this often.
DISPATCH_EVERY = timedelta(seconds=1)
# A task may start a moment before its delivery's time (clocks of machines differ a little).
TASK_CLOCK_SLACK = timedelta(seconds=2)
# An endpoint failing for this long without a single success is disabled.
DISABLE_AFTER_FAILING_FOR = timedelta(days=5)
# `last_success_at` is kept to this precision.
SUCCESS_RECORDING_INTERVAL = timedelta(minutes=1)
USER_AGENT = "CampaignSSO-Webhooks/1.0"
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
    # Nothing sent: the endpoint already has its share of deliveries in flight; queued again
    # when a slot frees.
    BUSY = "busy"
    # Nothing sent yet: a task was queued for it (the relay's count).
    QUEUED = "queued"


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

    A delivery whose endpoint already has `WEBHOOK_ENDPOINT_CONCURRENCY` live leases is not
    claimed: it waits for a free slot, while other endpoints' deliveries are claimed as usual.
    A lease that lapsed (its worker died) takes no slot.

    The attempt is counted here, before anything is sent: an "in flight" attempt row is written,
    and `next_attempt_at` stays at the claim's time, so that if this attempt never reports back
    the delivery is due again as soon as its lease lapses. A worker killed mid-send therefore
    uses up its attempt like a failure does, and a delivery whose workers keep dying ends failed
    after its last attempt instead of being redelivered forever.
    """
    candidates = WebhookDelivery.objects.filter(_due(now=now, due_by=due_by))
    if ids is not None:
        candidates = candidates.filter(pk__in=list(ids))
    token = secrets.token_hex(16)
    with transaction.atomic():
        # From when this transaction may write (SQLite may have waited for the lock), not from
        # when the caller read the clock: the lease must not be half spent before it starts.
        leased_at = max(now, timezone.now())
        locked_until = leased_at + LEASE
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
                    attempt_count=attempt_count + 1,
                    next_attempt_at=leased_at,
                    # The task that led here (if any) is spent.
                    queued_at=None,
                )
            )
            if not leased:
                continue
            _attempts_interrupted_mark(pk)
            WebhookAttempt.objects.create(
                delivery_id=pk,
                started_at=leased_at,
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
        response = send(
            "POST",
            endpoint.url,
            purpose=Purpose.WEBHOOK,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            total_timeout=TOTAL_TIMEOUT,
            max_bytes=RESPONSE_BODY_LIMIT,
            truncate=True,
            headers=headers,
            data=body,
            auth=auth,
        )
    except EgressError as exc:
        return None, str(exc)
    return response, ""


def delivery_attempt(*, delivery: WebhookDelivery) -> DeliveryOutcome:
    """Send a delivery this worker has claimed, record the attempt, plan what comes next, and
    hand the endpoint's freed slot to a delivery that waits for one."""
    endpoint = delivery.endpoint
    if not (endpoint.is_active and endpoint.disabled_at is None):
        _release(delivery)
        return DeliveryOutcome.PAUSED
    # Renewed while the POST and its recording run: if this process dies, the lease lapses
    # within LEASE and another worker takes the delivery over.
    with _lease_renewer.held(delivery.lease_token):
        outcome, kept = _send_and_record(delivery)
    if kept:
        # This attempt's slot of the endpoint is free: a delivery that waited for one goes next.
        deliveries_dispatch(now=timezone.now(), endpoint_id=delivery.endpoint_id)
    return outcome


def _send_and_record(delivery: WebhookDelivery) -> tuple[DeliveryOutcome, bool]:
    """The POST and its record; False when the lease was lost meanwhile (another claim's outcome
    stands)."""
    endpoint = delivery.endpoint
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
            # No task waits for it: the relay queues it when it comes due.
            update.update(next_attempt_at=finished_at + delay, last_error=error[:500])

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
            return outcome, False
        if outcome is DeliveryOutcome.DELIVERED:
            if _success_worth_recording(endpoint, at=finished_at):
                WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                    last_success_at=finished_at, failing_since=None
                )
        else:
            _endpoint_failed(endpoint.pk, at=attempted_at, gone_reason=disable_reason)
    return outcome, True


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


class _LeaseRenewer:
    """One thread per process renews the leases of the deliveries this process is sending, every
    LEASE_RENEWAL, in one UPDATE: a thread per attempt would cost more than the attempt's own
    work (see egress's watchdog). When the process dies, renewals stop and its leases lapse
    within LEASE; a lease held longer than LEASE_RENEWED_AT_MOST is let go too."""

    def __init__(self) -> None:
        self._start_afresh()

    def _start_afresh(self) -> None:
        # lease token → when renewals stop (monotonic)
        self._held: dict[str, float] = {}
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def held(self, lease_token: str) -> Iterator[None]:
        with self._condition:
            self._held[lease_token] = time.monotonic() + LEASE_RENEWED_AT_MOST.total_seconds()
            if self._thread is None or not self._thread.is_alive():  # first lease, or after fork
                self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)
                self._thread.start()
            self._condition.notify()
        try:
            yield
        finally:
            with self._condition:
                self._held.pop(lease_token, None)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._held:
                    self._condition.wait()
                # A fixed pace, whatever comes and goes meanwhile: at most one UPDATE per round.
                round_ends = time.monotonic() + LEASE_RENEWAL.total_seconds()
                while (left := round_ends - time.monotonic()) > 0:
                    self._condition.wait(left)
                now = time.monotonic()
                for token, until in list(self._held.items()):
                    if until <= now:
                        del self._held[token]
                tokens = list(self._held)
            if tokens:
                self._renew(tokens)

    @staticmethod
    def _renew(tokens: list[str]) -> None:
        try:
            WebhookDelivery.objects.filter(lease_token__in=tokens).update(
                locked_until=timezone.now() + LEASE
            )
        except DatabaseError:
            # The next round may get through; if none does, the lease lapses and a delivery may
            # be sent twice, with the same webhook-id.
            logger.warning("Webhook leases not renewed: %s", len(tokens), exc_info=True)
        finally:
            # Renewals are rare (most attempts end within one round): no connection kept.
            connections.close_all()


_lease_renewer = _LeaseRenewer()
# A forked child (an RQ work horse) has no renewer thread, and may have copied a held lock.
os.register_at_fork(after_in_child=_lease_renewer._start_afresh)


# ---------------------------------------------------------------------------- the task
@task(queue_name="webhooks")
def deliver_webhook(delivery_id: int) -> str:
    """Make one attempt at a delivery, if it is due and nobody else is at it.

    A task that sends nothing queues nothing either: its delivery is queued again when it is
    due and its endpoint has a free slot (by the worker that frees the slot, or the relay)."""
    now = timezone.now()
    due_by = now + TASK_CLOCK_SLACK
    claimed = deliveries_claim(now=now, due_by=due_by, ids=[delivery_id])
    if claimed:
        return delivery_attempt(delivery=claimed[0]).value
    # This task is spent: the delivery may be queued again.
    WebhookDelivery.objects.filter(pk=delivery_id, queued_at__isnull=False).update(queued_at=None)
    waiting = WebhookDelivery.objects.filter(
        _due(now=now, due_by=due_by), pk=delivery_id, attempt_count__lt=MAX_ATTEMPTS
    )
    if waiting.exists():  # due and free, so its endpoint is at its cap
        return DeliveryOutcome.BUSY.value
    return DeliveryOutcome.SKIPPED.value


def delivery_enqueue(*, delivery_id: int) -> bool:
    """Hand a due delivery to the task queue; the caller has set its `queued_at`. False when
    the queue refused it: no loss, the outbox row stays due and the relay queues it again (or
    sends it itself once it is overdue)."""
    try:
        deliver_webhook.enqueue(delivery_id)
    except Exception:
        # Broad on purpose: whatever the backend raises (Redis down, a misconfigured queue), the
        # committed outbox row is the guarantee, not this call.
        logger.warning("Webhook delivery %s could not be queued", delivery_id, exc_info=True)
        WebhookDelivery.objects.filter(pk=delivery_id).update(queued_at=None)
        return False
    return True


def deliveries_dispatch(
    *, now: datetime, endpoint_id: int | None = None, limit: int = DISPATCH_LIMIT
) -> int:
    """Queue a task for each due delivery that has none, as many per endpoint as it has free
    slots (WEBHOOK_ENDPOINT_CONCURRENCY, less its live leases and queued tasks): a backlog waits
    in the outbox, not in the queue, and one endpoint's backlog never hides another's due
    deliveries. Returns how many were queued."""
    cap = endpoint_concurrency()
    waiting = WebhookDelivery.objects.filter(_due(now=now, due_by=now), queued_at__isnull=True)
    if endpoint_id is not None:
        waiting = waiting.filter(endpoint_id=endpoint_id)
    # The first `cap` of each endpoint (more could not go anyway), oldest first.
    firsts = waiting.annotate(
        place=Window(
            RowNumber(),
            partition_by=F("endpoint_id"),
            order_by=(F("next_attempt_at").asc(), F("id").asc()),
        )
    ).filter(place__lte=cap)
    picked = list(firsts.order_by("next_attempt_at", "id").values_list("pk", "endpoint_id")[:limit])
    if not picked:
        return 0
    taken = dict(
        WebhookDelivery.objects.filter(
            endpoint_id__in={endpoint for _, endpoint in picked}, status=DeliveryStatus.PENDING
        )
        .filter(Q(locked_until__gt=now) | Q(queued_at__gt=now - QUEUED_TASK_LOST_AFTER))
        .order_by()
        .values("endpoint_id")
        .annotate(n=Count("pk"))
        .values_list("endpoint_id", "n")
    )
    room = {endpoint: cap - taken.get(endpoint, 0) for _, endpoint in picked}
    queued = 0
    for pk, endpoint in picked:
        if room[endpoint] <= 0:
            continue
        # Unless another relay or worker queued it meanwhile: one task per delivery.
        marked = (
            WebhookDelivery.objects.filter(
                pk=pk, status=DeliveryStatus.PENDING, queued_at__isnull=True
            )
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .update(queued_at=now)
        )
        if not marked:
            continue
        room[endpoint] -= 1
        if not delivery_enqueue(delivery_id=pk):
            break  # the queue is down: the others would fail the same way
        queued += 1
    return queued


# ---------------------------------------------------------------------------- the relay
def deliveries_relay(*, grace: timedelta, limit: int = 1000) -> dict[DeliveryOutcome, int]:
    """One pass of the relay: queue what has come due (retries, deliveries whose worker died or
    that waited for a slot), then send, one claim at a time, the deliveries that have been due
    for longer than `grace` all the same (their task was lost, or the queue is down), queueing
    again meanwhile every DISPATCH_EVERY. Returns counts by outcome."""
    counts: dict[DeliveryOutcome, int] = {}

    def dispatch() -> float:
        queued = deliveries_dispatch(now=timezone.now())
        if queued:
            counts[DeliveryOutcome.QUEUED] = counts.get(DeliveryOutcome.QUEUED, 0) + queued
        return time.monotonic()

    dispatched = dispatch()
    for _ in range(limit):
        if time.monotonic() - dispatched >= DISPATCH_EVERY.total_seconds():
            dispatched = dispatch()
        now = timezone.now()
        claimed = deliveries_claim(now=now, due_by=now - grace)
        if not claimed:
            break
        outcome = delivery_attempt(delivery=claimed[0])
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
