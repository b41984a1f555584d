"""Webhook delivery benchmark: how fast do workers drain the outbox to a local receiver?

For each task backend it fills a backlog of N deliveries (through the real
`webhook_events_record` and its on-commit enqueue), starts 1 then 2 real worker processes
(`manage.py db_worker --batch` or `manage.py rqworker --burst`) and times the drain to a
receiver on 127.0.0.1 that checks the Standard Webhooks signature of every request and answers
204. The receiver runs in a process of its own, so that its CPU time is read apart (/proc); at
the end a client hammers it directly (keep-alive, signed requests) for its own ceiling.

It reports deliveries/s per worker (up to the last delivery's arrival, "last delivery"; "drain"
is until the workers exit, which a burst worker may do long after), every event received
exactly once (distinct ids, none acknowledged twice), bad signatures, and the CPU seconds of
the workers and of the receiver.

    python bench/webhook_bench.py -n 5000                        # SQLite file, both backends
    python bench/webhook_bench.py -n 5000 --database-url postgres://postgres@127.0.0.1:5432/x

Production settings (DJANGO_DEBUG=0, bench/fault_settings.py for plain http to loopback).
PostgreSQL: a throwaway database `webhook_drain_<random>` on that server, dropped after. RQ: a
redis-server of its own on a free port (or --redis-url).
"""

import argparse
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from stack import (  # noqa: E402 (the path above first)
    accepts,
    cpu_seconds,
    machine,
    own_redis,
    production_env,
    throwaway_database,
)

BACKENDS = ("database", "rq")


def _environment(backend: str, *, database_url: str, redis_url: str) -> dict[str, str]:
    return {
        **os.environ,
        **production_env(
            database_url=database_url,
            cache_url="locmemcache://bench",
            settings_module="bench.fault_settings",
            TASKS_BACKEND=backend,
            REDIS_URL=redis_url,
            LOG_LEVEL="WARNING",
        ),
        "PYTHONPATH": str(ROOT),
    }


def _worker_command(backend: str) -> list[str]:
    manage = [sys.executable, str(ROOT / "manage.py")]
    if profile := os.environ.get("WEBHOOK_BENCH_PROFILE"):  # cProfile each worker into that dir
        manage[1:1] = ["-m", "cProfile", "-o", f"{profile}/worker-{secrets.token_hex(3)}.prof"]
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


# ---------------------------------------------------------------------------- the receiver
def serve_receiver(secret: str, port_file: str) -> None:
    """The receiver's own process: bench/stack.py's Receiver (signature checked on every
    request), with /stats and /reset."""
    import django

    django.setup()
    from stack import Receiver

    receiver = Receiver([secret])
    Path(port_file).write_text(str(receiver.port))
    while True:
        time.sleep(3600)


class ReceiverProcess:
    def __init__(self, secret: str, env: dict[str, str]) -> None:
        descriptor, self._port_file = tempfile.mkstemp()
        os.close(descriptor)
        self.process = subprocess.Popen(  # noqa: S603 (this interpreter, this script)
            [sys.executable, __file__, "--serve-receiver", secret, self._port_file], env=env
        )
        deadline = time.monotonic() + 30
        while not Path(self._port_file).read_text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit("the receiver did not start")
            time.sleep(0.05)
        self.port = int(Path(self._port_file).read_text())
        while not accepts(self.port):
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def get(self, path: str) -> dict:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", path)
        stats = json.loads(connection.getresponse().read())
        connection.close()
        return stats

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid, with_children=False)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        os.unlink(self._port_file)


def hammer(receiver: ReceiverProcess, secret: str, *, seconds: float) -> tuple[float, float]:
    """One client on one kept-alive connection, signed requests as fast as the receiver answers:
    (requests/s, receiver CPU ms per request)."""
    from integrations.webhooks.payloads import body_bytes
    from integrations.webhooks.signing import signed_headers

    body = body_bytes({"type": "participation.created", "data": {"id": 1}})
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=10)
    cpu_before = receiver.cpu()
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < seconds:
        headers = signed_headers(
            secrets=[secret], message_id=f"msg_hammer{sent}", timestamp=int(time.time()), body=body
        )
        connection.request("POST", "/hook", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 204:
            raise SystemExit(f"the receiver answered {response.status} to a signed request")
        sent += 1
    elapsed = time.monotonic() - started
    connection.close()
    return sent / elapsed, (receiver.cpu() - cpu_before) * 1000 / sent


# ---------------------------------------------------------------------------- one backend
def run_backend(backend: str, *, n: int, workers: list[int], database_url: str, redis_url: str):
    """Runs in a process whose settings were built for `backend`."""
    env = _environment(backend, database_url=database_url, redis_url=redis_url)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections, transaction

    from accounts.models import Account
    from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
    from integrations.webhooks.outbox import webhook_events_record
    from integrations.webhooks.signing import secret_generate

    call_command("migrate", verbosity=0)
    secret = secret_generate()
    receiver = ReceiverProcess(secret, env)
    account, _ = Account.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    try:
        for count in workers:
            WebhookAttempt.objects.all().delete()
            WebhookDelivery.objects.all().delete()
            WebhookEndpoint.objects.all().delete()
            if backend == "database":
                from django_tasks_db.models import DBTaskResult

                DBTaskResult.objects.all().delete()
            else:
                import redis

                redis.Redis.from_url(redis_url).flushdb()
            WebhookEndpoint.objects.create(
                account=account, url=receiver.url, events=["participation.created"], secret=secret
            )
            receiver.get("/reset")

            started = time.monotonic()
            for batch_start in range(0, n, 500):
                with transaction.atomic():
                    for i in range(batch_start, min(n, batch_start + 500)):
                        webhook_events_record(account=account, participation=_participation(i))
            fill_seconds = time.monotonic() - started
            connections.close_all()

            receiver_cpu = receiver.cpu()
            started = time.monotonic()
            processes = [
                subprocess.Popen(_worker_command(backend), cwd=ROOT, env=env)  # noqa: S603
                for _ in range(count)
            ]
            worker_cpu = 0.0
            for process in processes:
                # wait4: the worker's CPU time (with its children: RQ's work horses).
                _, status, usage = os.wait4(process.pid, 0)
                process.returncode = os.waitstatus_to_exitcode(status)
                worker_cpu += usage.ru_utime + usage.ru_stime
            drain_seconds = time.monotonic() - started
            receiver_cpu = receiver.cpu() - receiver_cpu

            stats = receiver.get("/stats")
            delivered = WebhookDelivery.objects.filter(status="delivered").count()
            exactly_once = (
                stats["distinct"] == n
                and stats["acknowledged"] == n
                and stats["twice"] == 0
                and delivered == n
            )
            # The rate is up to the last delivery's arrival: burst workers may take a while to
            # exit after it (an RQ worker once took 58 s more), which is not delivering.
            last = stats["last_acknowledged"]
            delivering = last - started if last is not None else drain_seconds
            last_delivery = f"{delivering:.1f} s" if last is not None else "–"
            rate = n / delivering
            print(
                f"| {backend} | {count} | {fill_seconds:.1f} s | {drain_seconds:.1f} s "
                f"| {last_delivery} "
                f"| {rate:,.0f}/s | **{rate / count:,.0f}/s** | {delivered:,} "
                f"| {stats['received']:,} | {'yes' if exactly_once else 'NO'} "
                f"| {stats['bad_signatures']} | {worker_cpu:.1f} s | {receiver_cpu:.1f} s "
                f"({receiver_cpu * 1000 / max(1, stats['received']):.2f} ms/request) |",
                flush=True,
            )
        receiver.get("/reset")
        ceiling, cpu_per_request = hammer(receiver, secret, seconds=3)
        print(
            f"receiver alone ({backend} run): {ceiling:,.0f} requests/s from one kept-alive "
            f"client, {cpu_per_request:.2f} ms of its CPU per request "
            f"(bad signatures {receiver.get('/stats')['bad_signatures']})",
            flush=True,
        )
    finally:
        receiver.stop()


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
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-receiver":
        serve_receiver(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5_000, help="backlog size (default 5000)")
    parser.add_argument("--backend", choices=[*BACKENDS, "all"], default="all")
    parser.add_argument("--workers", default="1,2", help="worker counts to try (default 1,2)")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--redis-url", default="", help="default: a redis-server of its own")
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]

    if args.run:  # one backend, in a process of its own (the settings depend on it)
        run_backend(
            args.backend,
            n=args.n,
            workers=workers,
            database_url=args.database_url,
            redis_url=args.redis_url,
        )
        return

    backends = BACKENDS if args.backend == "all" else (args.backend,)
    with (
        tempfile.TemporaryDirectory() as tmp,
        throwaway_database(
            args.database_url or f"sqlite:///{tmp}/bench.sqlite3",
            name=f"webhook_drain_{secrets.token_hex(4)}",
        ) as database_url,
        own_redis() as redis_base,
    ):
        redis_url = args.redis_url or (f"{redis_base}/0" if redis_base else "")
        info = machine()
        print(
            f"N={args.n}, {'PostgreSQL' if database_url.startswith('postgres') else 'SQLite'}, "
            f"{info['cpus']} CPUs ({info['cpu']}), load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        print(
            "| backend | workers | fill | drain | last delivery | deliveries/s | per worker "
            "| delivered | received | exactly once | bad signatures | workers' CPU "
            "| receiver's CPU |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|", flush=True)
        for backend in backends:
            if backend == "rq" and not redis_url:
                print("rq skipped: no Redis")
                continue
            subprocess.run(  # noqa: S603 (this interpreter, this script)
                [
                    sys.executable,
                    __file__,
                    "--run",
                    "-n",
                    str(args.n),
                    "--backend",
                    backend,
                    "--workers",
                    args.workers,
                    "--database-url",
                    database_url,
                    "--redis-url",
                    redis_url,
                ],
                check=True,
            )
        print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
