"""Webhook delivery benchmark: how fast do workers drain the outbox to a local receiver?

For each task backend it fills a backlog of N deliveries (through the real
`webhook_events_record` + on-commit enqueue), starts 1 then 2 real worker processes
(`manage.py db_worker --batch` or `manage.py rqworker --burst`) and times the drain to a
receiver on 127.0.0.1 that answers 204. It checks that every event arrived exactly once.

    python bench/webhook_bench.py                      # N=10000, database backend, +RQ if up
    python bench/webhook_bench.py -n 2000 --backend database
    python bench/webhook_bench.py --database-url postgres://postgres@127.0.0.1:5432/bench_wh

The default database is a fresh SQLite file; PostgreSQL is what production uses (and where two
workers can really run side by side). The URL's database is created if missing and emptied of
webhook data before each run: never point it at a real database.
"""

import argparse
import http.server
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("database", "rq")


class Receiver:
    def __init__(self):
        self.ids: Counter = Counter()
        lock = threading.Lock()
        ids = self.ids

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    ids[self.headers["webhook-id"]] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _environment(backend: str, database_url: str, redis_url: str) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": database_url,
        "TASKS_BACKEND": backend,
        "REDIS_URL": redis_url,
        "ALLOW_HTTP_LOOPBACK_ENDPOINTS": "1",
        "ALLOW_PRIVATE_WEBHOOK_ADDRESSES": "1",
        "LOG_LEVEL": "WARNING",
    }


def _redis_up(redis_url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(redis_url, socket_connect_timeout=0.5).ping())
    except redis.exceptions.RedisError:
        return False


def _ensure_postgres_database(database_url: str) -> None:
    if not database_url.startswith("postgres"):
        return
    import psycopg
    from psycopg import sql

    base, name = database_url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not exists.fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _worker_command(backend: str) -> list[str]:
    manage = [sys.executable, str(ROOT / "manage.py")]
    if backend == "database":
        return [
            *manage,
            "db_worker",
            "--queue-name",
            "webhooks",
            "--batch",
            "--no-reload",
            "--no-startup-delay",
            "--interval",
            "0",
            "--verbosity",
            "0",
        ]
    return [*manage, "rqworker", "webhooks", "--burst", "--verbosity", "0"]


def run_backend(backend: str, *, n: int, workers: list[int], database_url: str, redis_url: str):
    """Runs in a process whose settings were built for `backend`."""
    import django

    os.environ.update(_environment(backend, database_url, redis_url))
    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from accounts.models import Account
    from integrations.models import WebhookDelivery, WebhookEndpoint
    from integrations.webhooks.outbox import webhook_events_record
    from integrations.webhooks.signing import secret_generate

    call_command("migrate", verbosity=0)
    receiver = Receiver()
    account, _ = Account.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    results = []
    for count in workers:
        WebhookDelivery.objects.all().delete()
        WebhookEndpoint.objects.all().delete()
        if backend == "database":
            from django_tasks_db.models import DBTaskResult

            DBTaskResult.objects.all().delete()
        else:
            import redis

            redis.Redis.from_url(redis_url).flushdb()
        WebhookEndpoint.objects.create(
            account=account,
            url=receiver.url,
            events=["participation.created"],
            secret=secret_generate(),
        )
        receiver.ids.clear()

        started = time.monotonic()
        for batch_start in range(0, n, 500):
            with transaction.atomic():
                for i in range(batch_start, min(n, batch_start + 500)):
                    webhook_events_record(account=account, participation=_participation(i))
        fill_seconds = time.monotonic() - started

        env = _environment(backend, database_url, redis_url)
        started = time.monotonic()
        processes = [
            subprocess.Popen(_worker_command(backend), cwd=ROOT, env=env)  # noqa: S603 (fixed argv)
            for _ in range(count)
        ]
        for process in processes:
            process.wait()
        drain_seconds = time.monotonic() - started

        delivered = WebhookDelivery.objects.filter(status="delivered").count()
        duplicates = sum(1 for c in receiver.ids.values() if c > 1)
        results.append((backend, count, n, fill_seconds, drain_seconds, delivered, duplicates))
        print(
            f"{backend:9} workers={count} N={n} fill={fill_seconds:6.1f}s "
            f"drain={drain_seconds:6.1f}s rate={n / drain_seconds:7.1f}/s "
            f"delivered={delivered} received={sum(receiver.ids.values())} "
            f"duplicates={duplicates}",
            flush=True,
        )
    return results


def _participation(i: int) -> dict:
    from django.utils import timezone

    return {
        "id": i,
        "submitted_at": timezone.now(),
        "campaign": {"id": 1, "slug": "bench", "title": "Bench"},
        "participant": {"subject": f"sub-{i}", "issuer": "https://idp.example.com"},
        "values": {"firstname": "Jane", "email": f"jane{i}@example.com"},
        "prefilled": {"firstname": "Janet"},
        "changed": ["firstname"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="backlog size (default 10000)")
    parser.add_argument("--backend", choices=[*BACKENDS, "all"], default="all")
    parser.add_argument("--workers", default="1,2", help="worker counts to try (default 1,2)")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    workers = [int(w) for w in args.workers.split(",")]

    database_url = args.database_url
    tmp = None
    if not database_url:
        tmp = tempfile.TemporaryDirectory()
        database_url = f"sqlite:///{tmp.name}/bench.sqlite3"
    _ensure_postgres_database(database_url)

    if args.backend != "all":
        run_backend(
            args.backend,
            n=args.n,
            workers=workers,
            database_url=database_url,
            redis_url=args.redis_url,
        )
        return
    for backend in BACKENDS:
        if backend == "rq" and not _redis_up(args.redis_url):
            print(f"rq        skipped: Redis is not reachable at {args.redis_url}")
            continue
        # One process per backend: the settings (INSTALLED_APPS, TASKS) depend on it.
        subprocess.run(  # noqa: S603 (this interpreter, this script)
            [
                sys.executable,
                __file__,
                "-n",
                str(args.n),
                "--backend",
                backend,
                "--workers",
                args.workers,
                "--database-url",
                database_url,
                "--redis-url",
                args.redis_url,
            ],
            check=True,
        )


if __name__ == "__main__":
    main()
