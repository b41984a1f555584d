"""Queue the webhook deliveries that come due and send those whose task was lost: the guarantee
that nothing committed is lost, and what retries run on (no scheduler process is needed).

The relay outlives what it depends on: a pass that fails (the database restarting, Redis down
under the RQ backend, anything else) is logged and tried again after 1, 2, 4… seconds, at most
`--interval`, and the relay goes on as usual once a pass succeeds. `--once` reports the failure
instead (exit status 1).
"""

import logging
import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connections

from integrations.webhooks.relay import deliveries_relay

logger = logging.getLogger(__name__)

# Seconds before the first retry of a failed pass; doubled after each failure in a row.
RETRY_FIRST_SECONDS = 1.0


class Command(BaseCommand):
    help = (
        "Queue a task for every webhook delivery that has come due (retries, deliveries whose "
        "worker died, deliveries that waited for a slot of their endpoint), and send those due "
        "for longer than --grace that no worker picked up (a process that died after its "
        "commit, a queue that is down or was flushed). Runs every --interval seconds; --once "
        "for a single pass."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One pass, then exit.")
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds between passes (default 1)."
        )
        parser.add_argument(
            "--grace",
            type=float,
            default=60.0,
            help=(
                "Only deliveries overdue by this many seconds (default 60): younger ones are "
                "still the task queue's."
            ),
        )
        parser.add_argument(
            "--limit", type=int, default=1000, help="Most deliveries per pass (default 1000)."
        )

    def handle(self, *, once: bool, interval: float, grace: float, limit: int, **options):
        failures = 0
        while True:
            try:
                counts = deliveries_relay(grace=timedelta(seconds=grace), limit=limit)
            # Broad on purpose: whatever failed (OperationalError, InterfaceError, a Redis
            # error from the queue), the outbox rows are still there for the next pass.
            except Exception:
                if once:
                    raise
                failures += 1
                delay = min(interval, RETRY_FIRST_SECONDS * 2 ** (failures - 1))
                logger.warning(
                    "Webhook relay pass failed (%d in a row); trying again in %.0f s",
                    failures,
                    delay,
                    exc_info=True,
                )
                time.sleep(delay)
                _drop_connections()
                continue
            if failures:
                logger.warning("Webhook relay passes succeed again after %d failures", failures)
                failures = 0
            if counts or options["verbosity"] > 1:
                summary = ", ".join(f"{outcome}: {n}" for outcome, n in sorted(counts.items()))
                self.stdout.write(f"Relayed {sum(counts.values())} deliveries ({summary}).")
            if once:
                return
            time.sleep(interval)
            # Like a request: drop a database connection that broke or aged while we slept.
            close_old_connections()


def _drop_connections() -> None:
    """Forget database connections a failure may have left broken; the next pass opens new
    ones (a closed server, a connection reset mid-query)."""
    for connection in connections.all(initialized_only=True):
        try:
            connection.close()
        except Exception:
            logger.debug("A broken database connection could not be closed", exc_info=True)
