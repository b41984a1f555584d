"""Claiming deliveries: the lease a worker holds while it sends, the endpoint's concurrency cap,
and the thread that renews the leases of a live worker.

A delivery is claimed with a lease (`locked_until` + `lease_token`) before it is sent: with
`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, with a conditional UPDATE elsewhere. Two workers
or relays therefore never send the same attempt. The lease is short (`LEASE`) and renewed every few
seconds while the attempt runs, so a worker that dies mid-attempt stops holding its delivery and
its endpoint's slot within seconds. The attempt is counted at claim time (an "in flight" attempt
row), so a worker that keeps dying on a delivery uses up its attempts like failures do.

An endpoint has at most WEBHOOK_ENDPOINT_CONCURRENCY slots taken at once, so a receiver that
hangs holds that many workers, not all of them. A slot is a lease token: the deliveries leased
under one token are sent one after the other by one worker, never two at a time. A worker that
has just recorded its sends may hand its slot straight to the endpoint's next due deliveries
(`deliveries_handover`, in the transaction that records the attempts): a batch under a new
token replaces the one given back, the number of slots does not change, so no room needs
counting.
"""

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThan
from django.utils import timezone

from core.statements import rows_insert
from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from integrations.webhooks.retries import MAX_ATTEMPTS

logger = logging.getLogger(__name__)

# A claim holds its delivery (and a slot of its endpoint) this long, renewed every
# LEASE_RENEWAL while the attempt runs: a lease that lapses means the worker died or hung.
LEASE = timedelta(seconds=15)
LEASE_RENEWAL = timedelta(seconds=5)
# Renewals stop this long after the claim even if the attempt has not ended (the request itself
# is cut at its total timeout, 30 s): a worker stuck elsewhere lets its delivery go.
LEASE_RENEWED_AT_MOST = timedelta(seconds=30) + timedelta(seconds=15)
# PostgreSQL advisory lock namespace of the per-endpoint claim lock ("WH").
_ENDPOINT_LOCK_SPACE = 0x5748
INTERRUPTED_ERROR = (
    "Interrupted: the worker stopped before recording an answer (the receiver may have got it)."
)
IN_FLIGHT_ERROR = "In flight: sending."


def due_filter(*, now: datetime, due_by: datetime) -> Q:
    return (
        Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=due_by)
        & (Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        & Q(endpoint__is_active=True, endpoint__disabled_at__isnull=True)
    )


def endpoint_concurrency() -> int:
    """How many deliveries of one endpoint may be leased at once (RF-08)."""
    return max(1, int(getattr(settings, "WEBHOOK_ENDPOINT_CONCURRENCY", 2)))


def _endpoint_has_room(*, now: datetime) -> LessThan:
    """The delivery's endpoint has fewer than `endpoint_concurrency()` slots taken (live lease
    tokens: one worker sends a token's deliveries one at a time): one receiver that hangs holds
    that many workers at most, never all of them."""
    leased = _slots_by_endpoint(now=now).filter(endpoint_id=OuterRef("endpoint_id")).values("n")
    return LessThan(Coalesce(Subquery(leased), 0), endpoint_concurrency())


def _endpoints_full(*, now: datetime):
    """The endpoints whose live lease tokens already take `endpoint_concurrency()` slots."""
    return _slots_by_endpoint(now=now).filter(n__gte=endpoint_concurrency()).values("endpoint_id")


def _slots_by_endpoint(*, now: datetime):
    """Each endpoint's slots taken by leases (`n`, its live lease tokens), grouped by endpoint."""
    return (
        WebhookDelivery.objects.filter(locked_until__gt=now)
        .order_by()
        .values("endpoint_id")
        .annotate(n=Count("lease_token", distinct=True))
    )


def endpoint_slots_taken(
    *, endpoint_ids: Iterable[int], now: datetime, queued_lost_after: timedelta, exclude=()
) -> dict[int, int]:
    """Slots of each endpoint taken now: its live lease tokens, and its deliveries waiting with
    a queued task (queued within `queued_lost_after`: an older task is taken for lost). The
    deliveries in `exclude` are left out (the ones being queued)."""
    queued_not_leased = Q(queued_at__gt=now - queued_lost_after) & (
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    )
    counts = (
        WebhookDelivery.objects.filter(
            endpoint_id__in=set(endpoint_ids), status=DeliveryStatus.PENDING
        )
        .exclude(pk__in=list(exclude))
        .filter(Q(locked_until__gt=now) | queued_not_leased)
        .order_by()
        .values("endpoint_id")
        .annotate(
            leases=Count("lease_token", distinct=True, filter=Q(locked_until__gt=now)),
            queued=Count("pk", filter=queued_not_leased),
        )
        .values_list("endpoint_id", "leases", "queued")
    )
    return {endpoint_id: leases + queued for endpoint_id, leases, queued in counts}


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
    *,
    now: datetime,
    due_by: datetime,
    ids: Iterable[int] | None = None,
    endpoint_id: int | None = None,
    limit: int = 1,
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
    candidates = WebhookDelivery.objects.filter(due_filter(now=now, due_by=due_by))
    if ids is not None:
        candidates = candidates.filter(pk__in=list(ids))
    if endpoint_id is not None:
        candidates = candidates.filter(endpoint_id=endpoint_id)
    # A token per delivery: each claimed delivery is a slot of its endpoint of its own.
    tokens = []
    with transaction.atomic():
        # From when this transaction may write (SQLite may have waited for the lock), not from
        # when the caller read the clock: the lease must not be half spent before it starts.
        leased_at = max(now, timezone.now())
        locked_until = leased_at + LEASE
        _deliveries_exhausted_fail(candidates.filter(attempt_count__gte=MAX_ATTEMPTS), now=now)
        candidates = (
            candidates.filter(attempt_count__lt=MAX_ATTEMPTS)
            # Counted once for the query, not once per due delivery (a backlog is thousands).
            .exclude(endpoint_id__in=_endpoints_full(now=now))
            .order_by("next_attempt_at", "id")
        )
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True, of=("self",))
        picked = list(candidates.values_list("pk", "attempt_count", "endpoint_id")[:limit])
        _endpoints_lock(endpoint_id for _, _, endpoint_id in picked)
        for pk, attempt_count, _ in picked:
            token = secrets.token_hex(16)
            # No row locks (SQLite): the UPDATE repeats the conditions, and the database applies
            # one writer's UPDATE at a time, so a row another worker just leased no longer
            # matches. On PostgreSQL the row is locked and the conditions hold anyway.
            leased = (
                WebhookDelivery.objects.filter(pk=pk, attempt_count=attempt_count)
                .filter(due_filter(now=now, due_by=due_by))
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
            tokens.append(token)
            _attempts_interrupted_mark([pk])
            WebhookAttempt.objects.create(
                delivery_id=pk,
                started_at=leased_at,
                in_flight=True,
                lease_token=token,
                error=IN_FLIGHT_ERROR,
            )
    if not tokens:
        return []
    return list(
        WebhookDelivery.objects.select_related("endpoint")
        .filter(lease_token__in=tokens, locked_until=locked_until)
        .order_by("next_attempt_at", "id")
    )


def _attempts_interrupted_mark(delivery_ids: list[int]) -> None:
    """Previous claims' attempts still in flight: their worker died (or their lease ran out)."""
    WebhookAttempt.objects.filter(delivery_id__in=delivery_ids, in_flight=True).update(
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
            _attempts_interrupted_mark([pk])
            logger.warning(
                "Webhook delivery %s to endpoint %s failed: its last attempt was interrupted",
                event_id,
                endpoint_id,
            )


def deliveries_handover(
    *, endpoint: WebhookEndpoint, now: datetime, due_by: datetime, limit: int
) -> list[WebhookDelivery]:
    """Lease up to `limit` of the endpoint's next due deliveries, under one token, to a worker
    that has just given back its own slot of that endpoint in the current transaction (its
    attempts recorded): the slot passes on, the endpoint's count of slots stays the same, so no
    room is counted. The worker sends them one after the other. Empty when nothing is due (or
    another worker took it first, or the endpoint was switched off meanwhile). The deliveries
    carry `endpoint` as it is (a drain re-reads it with its next task)."""
    candidates = (
        WebhookDelivery.objects.filter(due_filter(now=now, due_by=due_by))
        .filter(endpoint_id=endpoint.pk, attempt_count__lt=MAX_ATTEMPTS)
        .order_by("next_attempt_at", "id")
        # What an attempt needs: compiling the whole row (and the endpoint's) for every
        # delivery of a drain cost more than the POST.
        .only("id", "attempt_count", "event_id", "payload", "endpoint_id")
    )
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True, of=("self",))
    _endpoints_lock([endpoint.pk])
    picked = {delivery.pk: delivery for delivery in candidates[:limit]}
    if not picked:
        return []
    leased_at = max(now, timezone.now())
    locked_until = leased_at + LEASE
    token = secrets.token_hex(16)
    # Its own columns only (the endpoint was checked by the SELECT): the UPDATE needs no join,
    # and still matches no row another worker leased meanwhile (SQLite takes no row locks).
    leased = WebhookDelivery.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now),
        pk__in=list(picked),
        status=DeliveryStatus.PENDING,
    ).update(
        locked_until=locked_until,
        lease_token=token,
        attempt_count=F("attempt_count") + 1,
        next_attempt_at=leased_at,
        queued_at=None,
    )
    if leased < len(picked):  # another worker was quicker for some
        ours = set(
            WebhookDelivery.objects.filter(pk__in=list(picked), lease_token=token).values_list(
                "pk", flat=True
            )
        )
        picked = {pk: delivery for pk, delivery in picked.items() if pk in ours}
        if not picked:
            return []
    # No attempt before, none interrupted.
    retried = [pk for pk, delivery in picked.items() if delivery.attempt_count]
    if retried:
        _attempts_interrupted_mark(retried)
    rows_insert(  # one statement on the cursor (core/statements.py), as the record's
        [
            WebhookAttempt(
                delivery_id=pk,
                started_at=leased_at,
                in_flight=True,
                lease_token=token,
                error=IN_FLIGHT_ERROR,
            )
            for pk in picked
        ]
    )
    for delivery in picked.values():
        delivery.locked_until = locked_until
        delivery.lease_token = token
        delivery.attempt_count += 1
        delivery.next_attempt_at = leased_at
        delivery.queued_at = None
        delivery.endpoint = endpoint
    return list(picked.values())


def deliveries_release(*, deliveries: list[WebhookDelivery]) -> None:
    """Give back claimed deliveries that were not sent: the attempts counted did not happen."""
    with transaction.atomic(savepoint=False):
        for token in {delivery.lease_token for delivery in deliveries}:
            ids = [delivery.pk for delivery in deliveries if delivery.lease_token == token]
            released = WebhookDelivery.objects.filter(pk__in=ids, lease_token=token).update(
                locked_until=None,
                lease_token="",
                attempt_count=F("attempt_count") - 1,
                next_attempt_at=timezone.now(),
            )
            if released:
                WebhookAttempt.objects.filter(
                    delivery_id__in=ids, lease_token=token, in_flight=True
                ).delete()


# ---------------------------------------------------------------------------- renewals
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


lease_renewer = _LeaseRenewer()
# A forked child (an RQ work horse) has no renewer thread, and may have copied a held lock.
os.register_at_fork(after_in_child=lease_renewer._start_afresh)
