"""Task workers killed (SIGKILL) in the middle of webhook deliveries: real `db_worker` processes
and the relay on a SQLite file, and a receiver on 127.0.0.1 that holds the first requests
without ever answering them.

What the product promises: a delivery is sent at least once and answered (2xx) once, always
with the same `webhook-id`; one whose worker died mid-request is sent again with that id (the
receiver may have got the first one: receivers deduplicate on `webhook-id`) within seconds, by
another worker. The dead worker's leases stop counting against the endpoint's cap as soon as
they lapse, the cap still holds for the live workers, and no task is queued twice for one
delivery: the queue never fills with retries.
"""

import sqlite3
import threading
import time
from collections import Counter

import pytest

from integrations.webhooks.leases import LEASE
from tests.faults.servers import WebhookReceiver
from tests.faults.webhook_stack import WebhookStack, wait_until

DELIVERIES = 20
CAP = 2  # WEBHOOK_ENDPOINT_CONCURRENCY
# The bound: a dead worker delays its deliveries by seconds, not minutes.
RECOVERY_SECONDS = 30


@pytest.fixture(scope="module")
def migrated_database(tmp_path_factory):
    database = tmp_path_factory.mktemp("webhook-stack") / "template.sqlite3"
    stack = WebhookStack(database, concurrency=CAP, log=database.with_suffix(".log"))
    stack.manage("migrate", "--noinput", "-v0")
    return database


@pytest.fixture
def stack(migrated_database, tmp_path):
    database = tmp_path / "db.sqlite3"
    # With the migrations' WAL: a plain file copy could miss them.
    with sqlite3.connect(migrated_database) as source, sqlite3.connect(database) as copy:
        source.backup(copy)
    stack = WebhookStack(database, concurrency=CAP, log=tmp_path / "processes.log")
    yield stack
    stack.stop()
    print((tmp_path / "processes.log").read_text()[-5000:])  # shown when the test failed


class QueueWatch:
    """Reads the task queue every 0.1 s: the most tasks queued at once for one delivery."""

    def __init__(self, stack: WebhookStack) -> None:
        self.stack = stack
        self.most_for_one_delivery = 0
        self.most_queued = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            queued = Counter(self.stack.queued_tasks())
            self.most_queued = max(self.most_queued, sum(queued.values()))
            self.most_for_one_delivery = max(
                self.most_for_one_delivery, max(queued.values(), default=0)
            )

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def test_deliveries_of_workers_killed_mid_send_go_out_within_seconds_answered_once(stack):
    with WebhookReceiver(delay=0.3, hold=CAP) as receiver, QueueWatch(stack) as queue:
        # Queued on commit: one task per free slot of the endpoint; the other deliveries wait
        # in the outbox (for the worker that drains the endpoint, or the relay).
        stack.seed(url=receiver.url, count=DELIVERIES)
        stack.relay()
        doomed = [stack.worker("doomed-1"), stack.worker("doomed-2")]
        # Each takes a delivery, and the receiver holds both requests: the endpoint is full.
        assert wait_until(lambda: len(receiver.held) == CAP, timeout=60), receiver.ids
        live = [stack.worker(f"live-{n}") for n in range(1, 4)]
        # The endpoint is full: nothing more is queued for it, the live workers send nothing
        # (no spinning, no growing queue).
        assert wait_until(lambda: stack.queued_tasks() == [], timeout=60)
        time.sleep(1)  # a few relay passes: still nothing queued, nothing sent
        assert stack.queued_tasks() == []
        assert stack.tasks_ever_queued() == CAP
        assert receiver.answered == []

        for worker in doomed:
            worker.kill()  # SIGKILL, mid-request
        killed_at = time.monotonic()
        everything_answered = wait_until(
            lambda: len(set(receiver.answered)) == DELIVERIES, timeout=RECOVERY_SECONDS + 30
        )
        recovered_in = time.monotonic() - killed_at
        assert all(worker.poll() is None for worker in live)

    assert everything_answered, f"{len(set(receiver.answered))} of {DELIVERIES} answered"
    assert recovered_in < RECOVERY_SECONDS, f"{recovered_in:.1f} s"
    deliveries = stack.deliveries()
    # Each delivery answered exactly once; the held ones were sent twice with the same id.
    assert Counter(receiver.answered) == Counter(dict.fromkeys(deliveries, 1))
    assert Counter(receiver.ids) == Counter(receiver.answered) + Counter(receiver.held)
    assert {status for status, _ in deliveries.values()} == {"delivered"}
    for event_id in receiver.held:
        assert deliveries[event_id] == ("delivered", 2)
        interrupted, delivered = stack.attempt_errors(event_id)
        assert interrupted.startswith("Interrupted") and delivered == ""
    # The cap held for the three live workers; one task per delivery at most, ever.
    assert receiver.max_in_flight <= CAP
    assert queue.most_for_one_delivery == 1
    assert queue.most_queued <= DELIVERIES
    assert stack.tasks_ever_queued() <= 2 * DELIVERIES


def test_a_live_worker_s_slow_delivery_keeps_its_lease_and_is_sent_once(stack):
    # Longer than a lease: only the renewals keep another worker from sending it meanwhile.
    with WebhookReceiver(status=200, dribble=LEASE.total_seconds() + 5) as receiver:
        stack.seed(url=receiver.url, count=1)
        stack.relay()
        stack.worker("slow-sender")
        stack.worker("idle")
        assert wait_until(lambda: receiver.answered, timeout=60)
        assert wait_until(
            lambda: stack.deliveries() and _the_only(stack)[0] == "delivered", timeout=60
        )

    assert receiver.ids == receiver.answered
    assert len(receiver.ids) == 1
    assert _the_only(stack) == ("delivered", 1)


def _the_only(stack: WebhookStack) -> tuple[str, int]:
    (only,) = stack.deliveries().values()
    return only
