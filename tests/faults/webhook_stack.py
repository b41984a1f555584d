"""Real webhook workers for the fault tests: `manage.py db_worker` processes and the relay on a
SQLite file, as deploy/Procfile runs them (TASKS_BACKEND=database), so that a test can kill one
with SIGKILL in the middle of a delivery.

The test process never opens that database through Django (its own test database is another
one): it seeds it through `python -m tests.faults.webhook_stack seed …` and reads it with
sqlite3.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


class WebhookStack:
    """Processes on one SQLite file; `stop()` ends every process it started."""

    def __init__(self, database: Path, *, concurrency: int, log: Path) -> None:
        self.database = database
        self.log = log
        self.processes: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            # Debug on: loopback receivers are allowed only then (and .env's keys are used).
            "DJANGO_DEBUG": "1",
            "ALLOW_PRIVATE_WEBHOOK_ADDRESSES": "1",
            "DATABASE_URL": f"sqlite:///{database}",
            "CACHE_URL": "locmemcache://webhook-stack",
            "TASKS_BACKEND": "database",
            "WEBHOOK_ENDPOINT_CONCURRENCY": str(concurrency),
            "LOG_LEVEL": "WARNING",
        }

    # ------------------------------------------------------------------ processes
    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def seed(self, *, url: str, count: int) -> None:
        """An account, an endpoint at `url` and `count` participations' events, each queued on
        commit as the submit view does."""
        subprocess.run(
            [sys.executable, "-m", "tests.faults.webhook_stack", "seed", url, str(count)],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def _start(self, *args: str) -> subprocess.Popen:
        with self.log.open("a") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def worker(self, name: str) -> subprocess.Popen:
        return self._start(
            "db_worker",
            "--queue-name",
            "webhooks",
            "--interval",
            "0.1",
            "--no-reload",
            "--no-startup-delay",
            "--worker-id",
            name,
        )

    def relay(self) -> subprocess.Popen:
        return self._start("relay_webhooks", "--interval", "0.5")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
        for process in self.processes:
            process.wait(10)

    # ------------------------------------------------------------------ the database
    def rows(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10) as db:
            return db.execute(sql, params).fetchall()

    def queued_tasks(self) -> list[int]:
        """The delivery id of every task waiting in the queue (one entry per task)."""
        return [
            json.loads(args_kwargs)["args"][0]
            for (args_kwargs,) in self.rows(
                "SELECT args_kwargs FROM django_tasks_database_dbtaskresult WHERE status = 'READY'"
            )
        ]

    def tasks_ever_queued(self) -> int:
        return self.rows("SELECT count(*) FROM django_tasks_database_dbtaskresult")[0][0]

    def deliveries(self) -> dict[str, tuple[str, int]]:
        """event id → (status, attempt count)."""
        return {
            event_id: (status, attempts)
            for event_id, status, attempts in self.rows(
                "SELECT event_id, status, attempt_count FROM integrations_webhookdelivery"
            )
        }

    def attempt_errors(self, event_id: str) -> list[str]:
        return [
            error
            for (error,) in self.rows(
                "SELECT a.error FROM integrations_webhookattempt a "
                "JOIN integrations_webhookdelivery d ON d.id = a.delivery_id "
                "WHERE d.event_id = ? ORDER BY a.id",
                event_id,
            )
        ]


def wait_until(condition, *, timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def _seed(url: str, count: int) -> None:
    import django

    django.setup()
    from django.db import transaction

    from accounts.models import Account
    from integrations.models import WebhookEndpoint, WebhookEvent
    from integrations.webhooks.outbox import webhook_events_record
    from integrations.webhooks.signing import secret_generate
    from tests.integrations.webhooks.webhook_support import participation_data

    account = Account.objects.create(name="Faults", slug="faults")
    WebhookEndpoint.objects.create(
        account=account,
        url=url,
        events=[WebhookEvent.PARTICIPATION_CREATED],
        secret=secret_generate(),
    )
    for number in range(count):
        with transaction.atomic():
            webhook_events_record(account=account, participation=participation_data(id=number))


if __name__ == "__main__":
    if sys.argv[1:2] == ["seed"]:
        _seed(sys.argv[2], int(sys.argv[3]))
