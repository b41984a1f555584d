"""`manage.py rqworker_resilient`: django-rq's `rqworker`, which outlives a Redis outage.

RQ's own worker waits for Redis while it is idle (it retries its blocking pop with back-off),
but a Redis error anywhere else ends it: while a job runs (the heartbeat, the job's result),
when it starts (registering itself), in its maintenance tasks. It then logs "quitting" and exits
with status 0, or with status 1 through django-rq, so a supervisor that restarts only failures
leaves it down. Here every such exit during an outage is followed by a wait for Redis (1, 2,
4… seconds, at most `MAX_WAIT_SECONDS`) and a new worker on the same queues, with the same
options: the worker resumes by itself within seconds of Redis answering again.

Its default worker class (`PromptStopWorker`) is RQ's own with one change: the thread that
listens for RQ's commands checks every second, not every 60, whether it must stop. With RQ's
60, a worker asked to stop sometimes waited that long for the thread (a race in RQ 3 with
redis-py 8 that made every third or so SIGTERM take a minute, longer than systemd's stop timeout).

It stops, like `rqworker`, on SIGTERM or SIGINT (a job in progress finishes first), and after
`--burst`, `--max-jobs` or `--max-idle-time` end it normally. A job that was running when Redis
went away may have lost its result: webhook deliveries do not depend on it (their outbox rows are
the truth, and `relay_webhooks` sends whatever is still due).
"""

import logging
import signal
import time

import redis.exceptions
from django_rq.management.commands.rqworker import Command as RQWorkerCommand
from django_rq.utils import reset_db_connections
from django_rq.workers import get_worker
from rq.logutils import setup_loghandlers
from rq.worker import Worker

logger = logging.getLogger(__name__)

FIRST_WAIT_SECONDS = 1.0
MAX_WAIT_SECONDS = 30.0
# A worker that ran this long before it ended was healthy: the next wait starts short again.
HEALTHY_RUN_SECONDS = 60.0


class PromptStopWorker(Worker):
    """RQ's worker, whose command listener stops within a second (see the module's doc)."""

    def subscribe(self):
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=1, daemon=True, exception_handler=self._pubsub_exception_handler
        )


class Command(RQWorkerCommand):
    help = (
        "Run an RQ worker (the options of rqworker) that waits for Redis and starts again "
        "after a Redis outage instead of exiting."
    )

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        level = "DEBUG" if verbosity >= 2 else "WARNING" if verbosity == 0 else "INFO"
        setup_loghandlers(level)
        self._stopping = False
        wait = FIRST_WAIT_SECONDS
        while not self._stopping:
            worker = None
            started = time.monotonic()
            try:
                worker = get_worker(
                    *args,
                    worker_class=options["worker_class"] or PromptStopWorker,
                    queue_class=options["queue_class"],
                    job_class=options["job_class"],
                    name=options["name"],
                    worker_ttl=options["worker_ttl"],
                    serializer=options["serializer"],
                )
                reset_db_connections()  # nothing opened here may be shared with a fork
                worker.work(
                    burst=options["burst"],
                    with_scheduler=options["with_scheduler"],
                    logging_level=level,
                    max_jobs=options["max_jobs"],
                    max_idle_time=options["max_idle_time"],
                )
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                logger.warning("RQ worker: Redis is unavailable (%s)", exc)
            if worker is not None and (
                worker._stop_requested or worker._shutdown_requested_date is not None
            ):
                return  # SIGTERM / SIGINT: stop like rqworker
            if self._ended_normally(worker, options):
                return
            if time.monotonic() - started >= HEALTHY_RUN_SECONDS:
                wait = FIRST_WAIT_SECONDS
            logger.warning("RQ worker ended; waiting for Redis, then starting again")
            self._wait_for_redis(worker, args, wait)
            wait = min(wait * 2, MAX_WAIT_SECONDS)

    def _ended_normally(self, worker, options) -> bool:
        """--burst, --max-jobs or --max-idle-time ended a worker that met no Redis error."""
        if not (options["burst"] or options["max_jobs"] or options["max_idle_time"]):
            return False
        return worker is not None and _redis_answers(worker.connection)

    def _wait_for_redis(self, worker, queue_names, wait: float) -> None:
        """Sleep `wait`, then until Redis answers a PING; a SIGTERM or SIGINT meanwhile stops."""

        def stop(signum, frame):
            self._stopping = True

        # RQ's handlers belong to the worker that ended: ours now, until the next worker's.
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        connection = worker.connection if worker is not None else None
        deadline = time.monotonic() + wait
        while not self._stopping:
            if time.monotonic() >= deadline:
                if connection is None or _redis_answers(connection):
                    return
                deadline = time.monotonic() + min(wait, MAX_WAIT_SECONDS)
            time.sleep(0.1)


def _redis_answers(connection) -> bool:
    try:
        return bool(connection.ping())
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        return False
