"""The "webhooks" queue: the `deliver_webhook` task, what it drains, and queueing what is due.

A task stands for one slot of an endpoint (WEBHOOK_ENDPOINT_CONCURRENCY at most per endpoint,
lease tokens and queued tasks together): it sends its delivery, then, over the same kept-alive
connection, hands its slot to a batch of the endpoint's next due deliveries (up to
WEBHOOK_BATCH_SIZE, under one lease) in the transaction that records the attempts, and so on
up to DRAIN_LIMIT deliveries or DRAIN_SECONDS. A batch is sent one delivery after the other,
for BATCH_SECONDS at most, then recorded in one commit: a backlog costs a few statements per
batch, not a claim, a record and a commit per delivery. The drain stops at the first attempt
that is not delivered (a failing receiver is retried on its schedule, not hammered; the rest of
its batch is given back unsent) and then hands the freed slot on through `deliveries_dispatch`.
A drain sends with the endpoint as its task read it: a URL or secret changed meanwhile applies
from the next task, within DRAIN_SECONDS, and a switched-off endpoint stops the drain at the end
of the batch being sent (BATCH_SECONDS at most).

A worker that dies during a batch leaves every delivery of it leased and unrecorded: their
leases lapse within LEASE and they are sent again, with the same webhook-id (at least once, as
the receivers are told); WEBHOOK_BATCH_SIZE bounds how many that can be.

Nothing waits in the queue for later: a task is queued when its delivery is due (on commit, or by
`relay_webhooks`, which queues what has come due every second: retries, deliveries whose worker
died, deliveries that waited for a slot of their endpoint), and a delivery has one queued task at
most (`queued_at`). Events recorded while their endpoint's slots are all taken wait in the outbox
for the worker draining it (or the relay), not in the queue. The task only speeds things up: the
outbox row is the source of truth.
"""

import logging
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django_tasks import task

from integrations.models import DeliveryStatus, WebhookDelivery
from integrations.webhooks.attempts import (
    DeliveryOutcome,
    deliveries_record,
    deliveries_send,
    delivery_record,
    delivery_send,
    endpoint_session,
)
from integrations.webhooks.leases import (
    deliveries_claim,
    deliveries_handover,
    deliveries_release,
    due_filter,
    endpoint_concurrency,
    endpoint_slots_taken,
)
from integrations.webhooks.retries import MAX_ATTEMPTS

logger = logging.getLogger(__name__)

# A queued task that has not run after this long is taken for lost (a flushed queue, a worker
# killed before it started): it no longer counts as its endpoint's, and the relay sends the
# delivery itself once it is overdue by its grace.
QUEUED_TASK_LOST_AFTER = timedelta(seconds=60)
# Deliveries queued by one dispatch, at most (every endpoint gets its share, see dispatch).
DISPATCH_LIMIT = 500
# How many times a dispatch looks again for an endpoint whose picked deliveries were taken
# between its lookup and its marking (by a worker draining the same endpoint).
DISPATCH_RACES = 2
# A task may start a moment before its delivery's time (clocks of machines differ a little).
TASK_CLOCK_SLACK = timedelta(seconds=2)
# One task sends at most this many of its endpoint's deliveries, for at most this long (other
# endpoints' tasks wait for the worker meanwhile), then hands its slot on.
DRAIN_LIMIT = 1000
DRAIN_SECONDS = 5.0
# A drain sends a batch for at most this long, then records it in one commit (and gives back the
# deliveries it had no time for).
BATCH_SECONDS = 1.0


def batch_size() -> int:
    """How many of its endpoint's deliveries a drain leases at a time (WEBHOOK_BATCH_SIZE)."""
    return max(1, int(getattr(settings, "WEBHOOK_BATCH_SIZE", 25)))


# ---------------------------------------------------------------------------- the task
@task(queue_name="webhooks")
def deliver_webhook(delivery_id: int) -> str:
    """Make one attempt at a delivery, if it is due and nobody else is at it, then drain its
    endpoint's due deliveries while they are delivered. If the delivery was taken meanwhile (by
    the worker draining its endpoint), the task takes the endpoint's next due one instead: the
    slot it was queued for is used.

    A task that sends nothing queues nothing either: its delivery is queued again when it is
    due and its endpoint has a free slot (by the worker that frees the slot, or the relay).
    Returns the outcome of the first attempt."""
    now = timezone.now()
    due_by = now + TASK_CLOCK_SLACK
    claimed = deliveries_claim(now=now, due_by=due_by, ids=[delivery_id])
    if claimed:
        return endpoint_drain(first=claimed[0]).value
    # This task is spent: the delivery may be queued again.
    WebhookDelivery.objects.filter(pk=delivery_id, queued_at__isnull=False).update(queued_at=None)
    waiting = WebhookDelivery.objects.filter(
        due_filter(now=now, due_by=due_by), pk=delivery_id, attempt_count__lt=MAX_ATTEMPTS
    )
    if waiting.exists():  # due and free, so its endpoint is at its cap
        return DeliveryOutcome.BUSY.value
    endpoint_id = (
        WebhookDelivery.objects.filter(pk=delivery_id).values_list("endpoint_id", flat=True).first()
    )
    if endpoint_id is not None:
        instead = deliveries_claim(now=now, due_by=now, endpoint_id=endpoint_id)
        if instead:
            endpoint_drain(first=instead[0])
    return DeliveryOutcome.SKIPPED.value


def endpoint_drain(*, first: WebhookDelivery) -> DeliveryOutcome:
    """Send a claimed delivery, then the endpoint's next due ones in batches (each batch leased
    as the previous one is recorded, in one commit), until one is not delivered, none is due,
    or the drain has had its share; then hand the slot on. Returns the first's outcome."""
    endpoint = first.endpoint
    if not (endpoint.is_active and endpoint.disabled_at is None):
        deliveries_release(deliveries=[first])
        return DeliveryOutcome.PAUSED
    session = endpoint_session(endpoint=endpoint)
    started = time.monotonic()
    batch = [first]
    first_outcome = None
    sent_count = 0
    while batch:
        sent = deliveries_send(
            deliveries=batch, session=session, until=time.monotonic() + BATCH_SECONDS
        )
        sent_count += len(sent)
        first_outcome = first_outcome or sent[0].outcome
        go_on = (
            sent[-1].outcome is DeliveryOutcome.DELIVERED
            and sent_count < DRAIN_LIMIT
            and time.monotonic() - started < DRAIN_SECONDS
        )
        with transaction.atomic():
            kept = deliveries_record(deliveries=batch, sent=sent)
            if unsent := batch[len(sent) :]:
                deliveries_release(deliveries=unsent)
            batch = []
            if kept and go_on:
                now = timezone.now()
                batch = deliveries_handover(
                    endpoint=endpoint,
                    now=now,
                    due_by=now,
                    limit=min(batch_size(), DRAIN_LIMIT - sent_count),
                )
        if not kept:
            # Another worker holds the endpoint's slot now.
            return first_outcome
    # This slot of the endpoint is free: a delivery that waited for one goes next.
    deliveries_dispatch(now=timezone.now(), endpoint_id=endpoint.pk)
    return first_outcome


def delivery_attempt(*, delivery: WebhookDelivery) -> DeliveryOutcome:
    """Send one delivery this worker has claimed, record the attempt, plan what comes next, and
    hand the endpoint's freed slot to a delivery that waits for one."""
    endpoint = delivery.endpoint
    if not (endpoint.is_active and endpoint.disabled_at is None):
        deliveries_release(deliveries=[delivery])
        return DeliveryOutcome.PAUSED
    sent = delivery_send(delivery=delivery, session=endpoint_session(endpoint=endpoint))
    with transaction.atomic():
        kept = delivery_record(delivery=delivery, sent=sent)
    if kept:
        # This attempt's slot of the endpoint is free: a delivery that waited for one goes next.
        deliveries_dispatch(now=timezone.now(), endpoint_id=delivery.endpoint_id)
    return sent.outcome


# ---------------------------------------------------------------------------- queueing
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


def deliveries_enqueue(*, delivery_ids: Iterable[int]) -> int:
    """Queue tasks for deliveries just recorded (written with `queued_at`, so that the relay
    leaves them to these tasks), as many per endpoint as it has free slots. The others are
    unmarked and wait in the outbox: the worker draining their endpoint takes them next, or the
    relay queues them when a slot frees. Returns how many were queued."""
    ids = list(delivery_ids)
    now = timezone.now()
    recorded = list(
        WebhookDelivery.objects.filter(
            pk__in=ids, status=DeliveryStatus.PENDING, queued_at__isnull=False
        ).values_list("pk", "endpoint_id")
    )
    if not recorded:
        return 0
    taken = Counter(
        endpoint_slots_taken(
            endpoint_ids={endpoint for _, endpoint in recorded},
            now=now,
            queued_lost_after=QUEUED_TASK_LOST_AFTER,
            exclude=ids,
        )
    )
    cap = endpoint_concurrency()
    waiting = []
    queued = 0
    for pk, endpoint in recorded:
        if taken[endpoint] >= cap:
            waiting.append(pk)
            continue
        taken[endpoint] += 1
        queued += delivery_enqueue(delivery_id=pk)
    if waiting:
        WebhookDelivery.objects.filter(pk__in=waiting).update(queued_at=None)
    return queued


def deliveries_dispatch(
    *, now: datetime, endpoint_id: int | None = None, limit: int = DISPATCH_LIMIT
) -> int:
    """Queue a task for each due delivery that has none, as many per endpoint as it has free
    slots (WEBHOOK_ENDPOINT_CONCURRENCY, less its live leases and queued tasks): a backlog waits
    in the outbox, not in the queue, and one endpoint's backlog never hides another's due
    deliveries. Returns how many were queued.

    A delivery picked may be leased before it is marked: a worker draining the same endpoint
    takes its oldest due deliveries too. An endpoint that still has a free slot then has its
    next due deliveries looked up again (DISPATCH_RACES times at most), or the slot would stay
    idle until that drain ends."""
    queued = 0
    endpoint_ids = None if endpoint_id is None else {endpoint_id}
    for _ in range(1 + DISPATCH_RACES):
        count, raced, queue_down = _dispatch(now=now, endpoint_ids=endpoint_ids, limit=limit)
        queued += count
        limit -= count
        if queue_down or not raced or limit <= 0:
            break
        endpoint_ids = raced
    return queued


def _dispatch(
    *, now: datetime, endpoint_ids: set[int] | None, limit: int
) -> tuple[int, set[int], bool]:
    """One pass of `deliveries_dispatch`: (tasks queued, the endpoints that kept a free slot
    because a delivery picked was taken meanwhile, whether the queue refused a task)."""
    cap = endpoint_concurrency()
    waiting = WebhookDelivery.objects.filter(
        due_filter(now=now, due_by=now), queued_at__isnull=True
    )
    if endpoint_ids is not None:
        waiting = waiting.filter(endpoint_id__in=endpoint_ids)
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
        return 0, set(), False
    taken = endpoint_slots_taken(
        endpoint_ids={endpoint for _, endpoint in picked},
        now=now,
        queued_lost_after=QUEUED_TASK_LOST_AFTER,
    )
    room = {endpoint: cap - taken.get(endpoint, 0) for _, endpoint in picked}
    queued = 0
    raced = set()
    for pk, endpoint in picked:
        if room[endpoint] <= 0:
            continue
        # Unless another relay or worker queued it meanwhile, or a drain leased it: one task
        # per delivery.
        marked = (
            WebhookDelivery.objects.filter(
                pk=pk, status=DeliveryStatus.PENDING, queued_at__isnull=True
            )
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
            .update(queued_at=now)
        )
        if not marked:
            raced.add(endpoint)
            continue
        room[endpoint] -= 1
        if not delivery_enqueue(delivery_id=pk):
            return queued, set(), True  # the queue is down: the others would fail the same way
        queued += 1
    return queued, {endpoint for endpoint in raced if room[endpoint] > 0}, False
