"""Stateless, proven: two gunicorn instances on one database and one Redis, every login crossing.

    python bench/stateless_bench.py [--concurrency 20] [--duration 30] [--write BENCHMARKS.md]

Starts on 127.0.0.1, and removes at the end: a throwaway PostgreSQL database on 127.0.0.1:5432
(`bench_stateless_<random>`, user postgres, trust authentication; PG_ADMIN_URL names another
server), a redis-server of its own on a free port (the cache on database 0, the RQ queues on 1),
the IdP stub (`bench/idp_server.py`), a webhook receiver that checks every signature, and two
instances A and B of the app, each as a deploy would run it: gunicorn with production settings
(`config/gunicorn.conf.py`, DJANGO_DEBUG=0; `bench/fault_settings.py` for plain http to the
loopback IdP and receiver), its own master on its own port, `--rq-workers` RQ workers
(`rqworker_resilient`, TASKS_BACKEND=rq) and the webhook relay. Both share the keys and
PUBLIC_BASE_URL, as two servers behind one load balancer do.

Virtual participants go through the login benchmark's journey (`login_bench.journey`, every
step checked, the prefilled form too): each journey starts on one instance (landing page, form
page, login start) and, back from the IdP, goes to the other (callback, prefilled form, submit,
thank-you page); the next journey of the same participant starts on the other one. Each
participation sends a signed participation.created webhook.

Reports logins/s, errors, the stored participations against what was submitted, the webhook
events created, received, answered more than once, and which process delivered them (the
receiver looks up who holds the connection's socket in /proc). Exits 1 on any error, a
participation missing or wrong, an event undelivered or delivered twice, a bad signature, or an
instance whose workers delivered none.
"""

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from login_bench import (  # noqa: E402
    CALLBACK_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    Results,
    check_database,
    run_load,
    seed,
    write_section,
)
from stack import (  # noqa: E402
    NO_RATE_LIMITS,
    PYTHON,
    Gunicorn,
    ProcessFinder,
    Receiver,
    accepts,
    django_setup,
    free_port,
    idp_stub,
    machine,
    own_redis,
    production_env,
    release,
    stop,
    throwaway_database,
    wait_for,
)

PG_ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DRAIN_SECONDS = 120


class Instance:
    """One deploy of the app: gunicorn, its RQ workers and its relay, each its own process
    group."""

    def __init__(self, name: str, env: dict, *, rq_workers: int, log) -> None:
        self.name = name
        self.web = Gunicorn(env, log=log)
        self.base = self.web.base
        self.helpers: dict[str, subprocess.Popen] = {}
        manage = [PYTHON, "manage.py"]
        for number in range(1, rq_workers + 1):
            worker = f"{name}-worker-{number}-{secrets.token_hex(2)}"
            self.helpers[f"{name} worker {number}"] = subprocess.Popen(
                [*manage, "rqworker_resilient", "--job-class", "django_tasks_rq.Job"]
                + ["--name", worker, "default", "webhooks"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.helpers[f"{name} relay"] = subprocess.Popen(
            [*manage, "relay_webhooks", "--interval", "1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def roots(self) -> dict[int, str]:
        return {process.pid: name for name, process in self.helpers.items()} | {
            self.web.pid: f"{self.name} web"
        }

    def stop(self) -> None:
        for process in self.helpers.values():
            stop(process, group=True, timeout=30)
        self.web.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--rq-workers", type=int, default=2, help="per instance")
    parser.add_argument("--write", type=Path, default=None, help="e.g. BENCHMARKS.md")
    args = parser.parse_args()
    pg_host = PG_ADMIN_URL.rsplit("@", 1)[-1].split("/", 1)[0]
    if not accepts(int(pg_host.rsplit(":", 1)[1]) if ":" in pg_host else 5432):
        print(f"stateless bench: no PostgreSQL at {pg_host}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="stateless-bench-"))
    name = f"bench_stateless_{secrets.token_hex(4)}"
    with own_redis() as redis_base, throwaway_database(PG_ADMIN_URL, name=name) as database_url:
        if redis_base is None:
            print("stateless bench: redis-server is not installed", file=sys.stderr)
            return 2
        return bench(args, tmp=tmp, database_url=database_url, redis_base=redis_base)


def bench(args, *, tmp: Path, database_url: str, redis_base: str) -> int:
    ports = {"A": free_port(), "B": free_port()}
    idp_port = free_port()
    public_base = f"http://127.0.0.1:{ports['A']}"
    idp_base = f"http://127.0.0.1:{idp_port}"
    env = production_env(
        database_url=database_url,
        cache_url=f"{redis_base}/0",
        settings_module="bench.fault_settings",
        PUBLIC_BASE_URL=public_base,
        TASKS_BACKEND="rq",
        REDIS_URL=f"{redis_base}/1",
        LOG_LEVEL="WARNING",
        **NO_RATE_LIMITS,
    )
    child_env = {**os.environ, **env}
    release(child_env)
    django_setup(env)
    from django.db import connections

    from integrations.models import WebhookDelivery
    from participants.models import Participation

    receiver = Receiver([])
    finder = ProcessFinder(receiver.port)
    receiver.sender = finder
    receiver.secrets = [seed(idp_base=idp_base, webhook_url=receiver.url)]
    connections.close_all()

    log = open(tmp / "processes.log", "w")  # noqa: SIM115
    idp = idp_stub(
        idp_port,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=f"{public_base}/oauth/callback/{CALLBACK_KEY}",
        log=log,
    )
    instances: list[Instance] = []
    try:
        for instance_name, port in ports.items():
            instance = Instance(
                instance_name,
                {**child_env, "PORT": str(port)},
                rq_workers=args.rq_workers,
                log=log,
            )
            instances.append(instance)
            finder.roots.update(instance.roots())
        wait_for(f"{idp_base}/jwks")
        for instance in instances:
            instance.web.wait_ready()
        a, b = (instance.base for instance in instances)
        print(
            f"stateless bench: A {a}, B {b} (PUBLIC_BASE_URL {public_base}), PostgreSQL "
            f"database {database_url.rsplit('/', 1)[1]}, Redis {redis_base}, "
            f"{args.concurrency} participants for {args.duration:.0f} s",
            flush=True,
        )
        results = Results()
        started = time.monotonic()
        run_load(
            public_base,
            idp_base,
            concurrency=args.concurrency,
            duration=args.duration,
            results=results,
            record=True,
            servers=(a, b),
        )
        elapsed = time.monotonic() - started
        print(f"  {results.completed} logins, {len(results.errors)} errors; draining", flush=True)

        events = set(WebhookDelivery.objects.values_list("event_id", flat=True))
        participations = Participation.objects.count()
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline:
            with receiver.lock:
                if events <= set(receiver.first_acknowledged):
                    break
            time.sleep(0.5)
        drained = time.monotonic() - started - elapsed
        time.sleep(2)  # a late duplicate would show up here
        with receiver.lock:
            acknowledged = Counter(receiver.acknowledged)
            senders = Counter(receiver.senders)
            bad_signatures = receiver.bad_signatures
        db_problems = check_database(results, in_process=0)
        connections.close_all()
    finally:
        for instance in instances:
            instance.stop()
        stop(idp, timeout=10)
        receiver.close()
        log.close()

    delivered = sum(1 for event in events if acknowledged[event])
    duplicates = sum(1 for event in events if acknowledged[event] > 1)
    strangers = sum(n for event, n in acknowledged.items() if event not in events)
    by_instance = Counter()
    for sender, count in senders.items():
        by_instance[sender.split(" ", 1)[0]] += count
    problems = []
    if results.errors:
        problems.append(f"{len(results.errors)} journeys failed")
    if results.completed == 0:
        problems.append("no login completed")
    if db_problems:
        problems.append(f"database: {db_problems[0]} ({len(db_problems)} problems)")
    if delivered < len(events):
        problems.append(f"{len(events) - delivered} events undelivered")
    if duplicates or strangers:
        problems.append(f"{duplicates} events delivered twice, {strangers} unknown ones")
    if bad_signatures:
        problems.append(f"{bad_signatures} bad signatures")
    for instance_name in ports:
        if not by_instance[instance_name]:
            problems.append(f"instance {instance_name}'s workers delivered nothing")

    facts = machine()
    lines = [
        f"### Two instances, one database — {args.concurrency} participants, {args.duration:.0f} s",
        "",
        f"Machine: {facts['cpus']} CPUs ({facts['cpu']}), Python {facts['python']}, Django "
        f"{facts['django']}, PostgreSQL (a throwaway database), Redis of its own (cache and RQ); "
        f"two gunicorn instances with `config/gunicorn.conf.py` (each its own master, cores "
        f"workers × 8 threads), each with {args.rq_workers} `rqworker_resilient` and the relay; "
        f"load average before the run {facts['load']}.",
        "",
        f"- complete logins: **{results.completed}** in {elapsed:.1f} s = "
        f"**{results.completed / elapsed:.1f} logins/s**, each started on one instance and "
        f"finished on the other (A→B and B→A in turn)",
        f"- errors: **{len(results.errors)}**"
        + (f" (first: {results.errors[0]})" if results.errors else ""),
        f"- database: {participations} participations; "
        + ("; ".join(db_problems[:3]) or "every one matches what was submitted"),
        f"- webhook events: {len(events)} created, **{delivered} received** (signature "
        f"checked; {bad_signatures} bad), **{duplicates} delivered twice**; the last one "
        f"{max(drained, 0):.1f} s after the load ended",
        "- delivered by: "
        + ", ".join(f"{sender} {count}" for sender, count in sorted(senders.items()))
        + " — "
        + ", ".join(f"instance {name} {by_instance[name]}" for name in ports),
        "",
        "Verdict: " + ("**ok**" if not problems else "**FAILED**: " + "; ".join(problems)),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if results.errors:
        print("errors (first 10):", *results.errors[:10], sep="\n  ")
    if problems:
        print(f"process log: {tmp / 'processes.log'}")
        return 1
    if args.write:
        write_section(args.write, "stateless", text)
        print(f"written to {args.write}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
