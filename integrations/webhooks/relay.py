"""`relay_webhooks`'s pass: queue what has come due, and send what nobody picked up.

The relay queues, every DISPATCH_EVERY, the deliveries that have come due and have no task
(retries, deliveries whose worker died, deliveries that waited for a slot of their endpoint).
It also sends itself whatever has been due for a while and was not picked up (a process that
died right after its commit, a queue that is down or was flushed).
"""

import time
from datetime import timedelta

from django.utils import timezone

from integrations.webhooks.attempts import DeliveryOutcome
from integrations.webhooks.leases import deliveries_claim
from integrations.webhooks.tasks import deliveries_dispatch, delivery_attempt

# While the relay sends overdue deliveries itself, it still queues what comes due this often.
DISPATCH_EVERY = timedelta(seconds=1)


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
