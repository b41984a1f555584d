"""Queue the webhook deliveries that come due and send those whose task was lost: the guarantee
that nothing committed is lost, and what retries run on (no scheduler process is needed)."""

import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from integrations.webhooks import deliveries_relay


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
        while True:
            counts = deliveries_relay(grace=timedelta(seconds=grace), limit=limit)
            if counts or options["verbosity"] > 1:
                summary = ", ".join(f"{outcome}: {n}" for outcome, n in sorted(counts.items()))
                self.stdout.write(f"Relayed {sum(counts.values())} deliveries ({summary}).")
            if once:
                return
            time.sleep(interval)
            # Like a request: drop a database connection that broke or aged while we slept.
            close_old_connections()
