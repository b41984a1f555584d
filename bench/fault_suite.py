"""Fault suite (issue 21): five faults against the production-like stack on loopback.

    python bench/fault_suite.py            # about 15 s of fault and 10 s after it, per fault
    python bench/fault_suite.py --short    # a few seconds each: what CI runs

It starts everything itself on free 127.0.0.1 ports and removes it at the end: a PostgreSQL
cluster and a Redis of its own (`tests/faults/servers.py`), gunicorn with production settings
(`config/gunicorn.conf.py`, DJANGO_DEBUG=0, `bench/fault_settings.py` for plain http to
loopback), the RQ backend (TASKS_BACKEND=rq on that Redis) with three
`rqworker_resilient` processes and the relay, kept up as the shipped systemd units do
(restarted 5 s after they exit), two customers with a campaign each behind its own IdP stub
(`bench/idp_server.py`), and one webhook receiver that checks every signature and counts what
it got per `webhook-id`.

Participants go through the whole journey (landing, login, IdP, callback, form, submit,
thank-you page) without pause, half on each campaign, while each fault is injected in turn and
then ended:

1. Redis down during logins (killed, started again empty on the same port);
2. PostgreSQL down during journeys (immediate shutdown, started again);
3. every webhook worker killed (SIGKILL) mid-delivery, the receiver holding two requests;
4. one customer's IdP hangs (its token endpoint accepts and never answers);
5. retries come due while every worker is dead: the receiver answers 503, all workers are
   killed, the receiver recovers: RQ's scheduler (whose lock a killed worker held for 11 min)
   is not needed, the relay queues the retries.

Per fault it counts journeys attempted / confirmed (thank-you page) / stored in the database
(lost = confirmed but not stored), the failure pages by status, webhook events created /
delivered / answered more than once, the time from the fault's end to the first confirmed
journey and to every event so far delivered, `/healthz`'s answers, and for the hanging IdP the
other campaign's p95 under the fault against the normal phase. It exits 1 when an invariant
breaks: anything lost, Redis down costing a login, a bare 500 (or 400) while the database is
down, an event undelivered after recovery, dead workers delaying deliveries 30 s or more, or
the other campaign's p95 over 1.5x.
"""

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from idp_server import profile_of  # noqa: E402
from stack import (  # noqa: E402
    NO_RATE_LIMITS,
    Gunicorn,
    Receiver,
    customer_seed,
    django_setup,
    free_port,
    idp_stub,
    machine,
    percentile,
    production_env,
    release,
    stop,
    wait_for,
)

from tests.faults.servers import PostgresCluster, RedisServer  # noqa: E402

PYTHON = sys.executable
CLIENT_ID = "fault-suite"
CLIENT_SECRET = secrets.token_urlsafe(24)
ALPHA, BETA = "alpha-contest", "beta-contest"
DATABASE = "fault_suite"
WORKERS = 3
RESTART_SECONDS = 5  # RestartSec= of the shipped systemd units
THINK_SECONDS = 1.0
READ_TIMEOUT = 10  # the integrations' IdP read timeout, as in the issue's run
# The bounds.
DEAD_WORKER_BOUND = 30.0
P95_RATIO_BOUND = 1.5
_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# ---------------------------------------------------------------------------- loopback servers
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class SwitchableTokenEndpoint:
    """BETA's token endpoint: passes requests on to its IdP stub, or, while `hanging`, accepts
    them and answers nothing until the hang ends (then drops the connection)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.hanging = False
        self._unhang = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: without this, Nagle's algorithm held the
            # body 40 ms for the client's delayed acknowledgement (bench/idp_server.py).
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if endpoint.hanging:
                    endpoint._unhang.wait(300)
                    self.close_connection = True
                    return
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() in ("authorization", "content-type", "accept")
                }
                answer = requests.post(endpoint.upstream, data=body, headers=headers, timeout=30)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", ""))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def hang(self) -> None:
        self._unhang.clear()
        self.hanging = True

    def answer(self) -> None:
        self.hanging = False
        self._unhang.set()

    def close(self) -> None:
        self._unhang.set()
        self._server.shutdown()


# ---------------------------------------------------------------------------- processes
class Supervisor:
    """Keeps the workers and the relay running as systemd's Restart=always, RestartSec=5 does;
    `kill_workers()` sends SIGKILL to every worker's process group (worker and work horse)."""

    def __init__(self, env: dict, log, *, grace: float) -> None:
        self.env, self.log, self.grace = env, log, grace
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts: Counter = Counter()
        self._exited: dict[str, float] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def _start(self, name: str) -> None:
        manage = [PYTHON, "manage.py"]
        if name == "relay":
            argv = [*manage, "relay_webhooks", "--interval", "1", "--grace", str(self.grace)]
        else:
            argv = [*manage, "rqworker_resilient", "--job-class", "django_tasks_rq.Job"]
            argv += ["default", "webhooks"]
        self.processes[name] = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start(self) -> None:
        for name in ["relay", *(f"worker-{n}" for n in range(1, WORKERS + 1))]:
            self._start(name)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                for name, process in self.processes.items():
                    if process.poll() is None:
                        continue
                    exited = self._exited.setdefault(name, time.monotonic())
                    if time.monotonic() - exited >= RESTART_SECONDS:
                        del self._exited[name]
                        self.restarts[name] += 1
                        self._start(name)

    def kill_workers(self) -> None:
        with self._lock:
            for name, process in self.processes.items():
                if name.startswith("worker"):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            for process in self.processes.values():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in self.processes.values():
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(5)


# ---------------------------------------------------------------------------- journeys
@dataclass
class Journey:
    slug: str
    subject: str
    started: float
    ended: float = 0.0
    confirmed: bool = False
    failure: str = ""  # "503", "500", "400", "no answer"… at the step that failed


@dataclass
class Load:
    base: str
    prefix: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    journeys: list[Journey] = field(default_factory=list)
    healthz: Counter = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)


class StepFailedError(Exception):
    pass


def journey(base: str, slug: str, subject: str) -> None:
    """Landing page to thank-you page; raises StepFailedError with the failing answer."""
    browser = requests.Session()
    browser.trust_env = False

    def step(method, url, *, expect, **kwargs):
        response = browser.request(method, url, allow_redirects=False, timeout=60, **kwargs)
        if response.status_code != expect:
            raise StepFailedError(str(response.status_code))
        return response

    try:
        step("GET", f"{base}/c/{slug}/", expect=200)
        start = step("GET", f"{base}/c/{slug}/login/", expect=302)
        back = step("GET", start.headers["Location"] + f"&login_hint={subject}", expect=302)
        done = step("GET", back.headers["Location"], expect=303)
        form_url = base + done.headers["Location"]
        form = step("GET", form_url, expect=200)
        token, csrf = _TOKEN.search(form.text), _CSRF.search(form.text)
        if not token or not csrf:
            raise StepFailedError("no form")
        profile = profile_of(subject)
        submitted = step(
            "POST",
            f"{base}/c/{slug}/form/",
            data={
                "form_token": token.group(1),
                "csrfmiddlewaretoken": csrf.group(1),
                "f-firstname": profile["given_name"],
                "f-lastname": profile["family_name"],
                "f-email": profile["email"],
            },
            headers={"Referer": form_url},
            expect=303,
        )
        thanks = step("GET", base + submitted.headers["Location"], expect=200)
        if "thank" not in thanks.text.lower():
            raise StepFailedError("not thanked")
    except requests.RequestException as exc:
        raise StepFailedError("no answer") from exc
    finally:
        browser.close()


def participant_loop(load: Load, slug: str, name: str) -> None:
    number = 0
    while not load.stop.is_set():
        number += 1
        record = Journey(slug, f"{load.prefix}-{name}-{number}", time.monotonic())
        try:
            journey(load.base, slug, record.subject)
            record.confirmed = True
        except StepFailedError as exc:
            record.failure = str(exc)
        record.ended = time.monotonic()
        with load.lock:
            load.journeys.append(record)
        # The next participant arrives a moment later; one who failed presses "Try again".
        load.stop.wait(THINK_SECONDS if record.confirmed else 0.5)


def healthz_loop(load: Load) -> None:
    while not load.stop.wait(0.5):
        try:
            status = str(requests.get(f"{load.base}/healthz", timeout=5).status_code)
        except requests.RequestException:
            status = "timeout"
        with load.lock:
            load.healthz[status] += 1


def start_load(base: str, prefix: str, concurrency: int) -> tuple[Load, list[threading.Thread]]:
    load = Load(base, prefix)
    threads = [threading.Thread(target=healthz_loop, args=(load,), daemon=True)]
    for n in range(concurrency):
        slug = (ALPHA, BETA)[n % 2]
        threads.append(
            threading.Thread(target=participant_loop, args=(load, slug, f"p{n}"), daemon=True)
        )
    for thread in threads:
        thread.start()
    return load, threads


# ---------------------------------------------------------------------------- the database
class Store:
    """Reads the suite's database directly (psycopg), between faults."""

    def __init__(self, cluster: PostgresCluster) -> None:
        self.dsn = f"host=127.0.0.1 port={cluster.port} user=postgres dbname={DATABASE}"

    def query(self, sql: str, *params):
        import psycopg

        for attempt in range(30):  # just after a restart, the cluster may still refuse
            try:
                with psycopg.connect(self.dsn, connect_timeout=2) as connection:
                    return connection.execute(sql, params).fetchall()
            except psycopg.OperationalError:
                if attempt == 29:
                    raise
                time.sleep(0.5)
        return None

    def last_event(self) -> int:
        return self.query("SELECT coalesce(max(id), 0) FROM integrations_webhookdelivery")[0][0]

    def events(self, after: int, upto: int | None = None) -> list[str]:
        if upto is None:
            upto = 2**62
        return [
            event_id
            for (event_id,) in self.query(
                "SELECT event_id FROM integrations_webhookdelivery WHERE id > %s AND id <= %s",
                after,
                upto,
            )
        ]

    def stored_subjects(self, prefix: str) -> set[str]:
        return {
            subject
            for (subject,) in self.query(
                "SELECT p.subject FROM participants_participation n "
                "JOIN participants_participant p ON p.id = n.participant_id "
                "WHERE p.subject LIKE %s",
                prefix + "-%",
            )
        }


# ---------------------------------------------------------------------------- the faults
@dataclass
class Stack:
    base: str
    redis: RedisServer
    cluster: PostgresCluster
    supervisor: Supervisor
    receiver: Receiver
    beta_token: SwitchableTokenEndpoint
    store: Store


@dataclass
class Outcome:
    name: str
    attempted: int = 0
    confirmed: int = 0
    stored: int = 0
    lost: int = 0
    failures: Counter = field(default_factory=Counter)
    failures_during: int = 0
    created: int = 0
    delivered: int = 0
    duplicated: int = 0
    undelivered: int = 0
    journey_recovery: float | None = None
    delivery_recovery: float | None = None
    late_delay: float | None = None  # the dead workers' / refused deliveries, after the fault
    healthz: Counter = field(default_factory=Counter)
    p95_normal: float | None = None
    p95_fault: float | None = None
    note: str = ""
    broken: list[str] = field(default_factory=list)


def _inject(key: str, stack: Stack, seconds: float) -> float:
    """Starts fault `key`, waits `seconds`, ends it; returns when the fault ended (monotonic)."""
    if key == "redis":
        stack.redis.kill()
        time.sleep(seconds)
        stack.redis.start()
    elif key == "postgres":
        stack.cluster.stop()
        time.sleep(seconds)
        stack.cluster.start()
    elif key == "workers":
        stack.receiver.hold(2)
        deadline = time.monotonic() + 30
        while len(stack.receiver.held) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)  # both requests in flight: the workers are mid-delivery
        stack.supervisor.kill_workers()
        ended = time.monotonic()
        stack.receiver.release()
        time.sleep(seconds)
        return ended  # the dead workers' deliveries are late from the kill on
    elif key == "idp":
        stack.beta_token.hang()
        time.sleep(seconds)
        stack.beta_token.answer()
    elif key == "retries":
        # Refused once, for less than the schedule's 5 s to the second attempt: that second
        # attempt then comes due while every worker is dead, which is the fault. (Refused for
        # longer, a third attempt waits the schedule's 5 minutes, past any wait of the suite.)
        stack.receiver.status = 503
        time.sleep(min(3.0, seconds / 2))
        stack.receiver.status = 204
        stack.supervisor.kill_workers()
        time.sleep(seconds / 2)
    return time.monotonic()


FAULTS = {
    "redis": "1. Redis down during logins",
    "postgres": "2. PostgreSQL down during journeys",
    "workers": "3. every webhook worker killed -9 mid-delivery",
    "idp": "4. one customer's IdP hangs (token endpoint)",
    "retries": "5. retries due, every worker killed, no RQ scheduler",
}


def run_fault(
    key: str,
    stack: Stack,
    *,
    concurrency: int,
    lead: float,
    seconds: float,
    after: float,
    drain: float,
    p95_normal: float | None,
) -> Outcome:
    outcome = Outcome(FAULTS[key])
    first_event = stack.store.last_event()
    load, threads = start_load(stack.base, key, concurrency)
    time.sleep(lead)
    began = time.monotonic()
    ended = _inject(key, stack, seconds)
    fault_done = time.monotonic()
    cutoff = stack.store.last_event()  # every event up to here must go out
    due = stack.store.events(first_event, cutoff)
    with stack.receiver.lock:
        late = set(stack.receiver.held) | stack.receiver.refused
        stack.receiver.held.clear()
        stack.receiver.refused.clear()
    while time.monotonic() - fault_done < after:
        time.sleep(0.2)
    load.stop.set()
    for thread in threads:
        thread.join(90)
    # Every event of the fault's phase out, within the drain time.
    events = stack.store.events(first_event)
    deadline = time.monotonic() + drain
    while time.monotonic() < deadline:
        with stack.receiver.lock:
            if all(e in stack.receiver.first_acknowledged for e in events):
                break
        time.sleep(0.2)
    with stack.receiver.lock:
        acknowledged = dict(stack.receiver.first_acknowledged)
        answers = Counter(stack.receiver.acknowledged)

    journeys = load.journeys
    confirmed = {j.subject for j in journeys if j.confirmed}
    stored = stack.store.stored_subjects(key)
    outcome.attempted = len(journeys)
    outcome.confirmed = len(confirmed)
    outcome.stored = len(stored)
    outcome.lost = len(confirmed - stored)
    outcome.failures = Counter(j.failure for j in journeys if not j.confirmed)
    # Journeys that were under way while the fault lasted and failed.
    outcome.failures_during = sum(
        1 for j in journeys if not j.confirmed and j.ended >= began and j.started <= fault_done
    )
    outcome.created = len(events)
    outcome.delivered = sum(1 for e in events if e in acknowledged)
    outcome.duplicated = sum(1 for e in events if answers[e] > 1)
    outcome.undelivered = outcome.created - outcome.delivered
    after_fault = [j.ended - ended for j in journeys if j.confirmed and j.started >= ended]
    outcome.journey_recovery = min(after_fault) if after_fault else None
    if due and all(e in acknowledged for e in due):
        outcome.delivery_recovery = max(0.0, max(acknowledged[e] for e in due) - ended)
    if late:
        outcome.late_delay = max(acknowledged.get(e, time.monotonic()) - ended for e in late)
    outcome.healthz = load.healthz
    if key == "idp":
        alpha = [(j.ended - j.started) * 1000 for j in journeys if j.slug == ALPHA and j.confirmed]
        under = [
            (j.ended - j.started) * 1000
            for j in journeys
            if j.slug == ALPHA and j.confirmed and j.started >= began and j.ended <= fault_done
        ]
        outcome.p95_normal = p95_normal
        outcome.p95_fault = percentile(under or alpha, 0.95)
    _judge(key, outcome)
    return outcome


def _judge(key: str, o: Outcome) -> None:
    if o.lost:
        o.broken.append(f"{o.lost} confirmed participations not stored")
    if o.undelivered:
        o.broken.append(f"{o.undelivered} events undelivered after recovery")
    if o.confirmed == 0:
        o.broken.append("no journey confirmed")
    if key == "redis" and o.failures_during:
        o.broken.append(f"Redis down cost {o.failures_during} logins")
    if key == "postgres":
        bare = {f: n for f, n in o.failures.items() if f not in ("503", "no answer")}
        if bare:
            o.broken.append(f"pages other than the 503 retry page: {dict(bare)}")
    if key in ("workers", "retries"):
        if o.late_delay is None:
            o.broken.append("the fault was not injected (no delivery held or refused)")
        elif o.late_delay >= DEAD_WORKER_BOUND:
            o.broken.append(f"the dead workers' deliveries delayed {o.late_delay:.1f} s")
    if key == "idp" and (
        not o.p95_normal or not o.p95_fault or o.p95_fault / o.p95_normal > P95_RATIO_BOUND
    ):
        o.broken.append(f"other campaign's p95 {o.p95_fault:.0f} ms vs {o.p95_normal:.0f}")


def normal_phase(stack: Stack, *, concurrency: int, seconds: float) -> float:
    """The other campaign's journey p95 (ms) with nothing failing: the hanging IdP's yardstick."""
    load, threads = start_load(stack.base, "normal", concurrency)
    time.sleep(seconds)
    load.stop.set()
    for thread in threads:
        thread.join(90)
    failed = [j for j in load.journeys if not j.confirmed]
    if failed:
        raise SystemExit(f"the normal phase failed {len(failed)} journeys: {failed[:3]}")
    alpha = [(j.ended - j.started) * 1000 for j in load.journeys if j.slug == ALPHA]
    return percentile(alpha, 0.95)


# ---------------------------------------------------------------------------- report
def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def table(outcomes: list[Outcome]) -> str:
    lines = [
        "| fault | journeys | confirmed | stored | lost | failure pages | events created | "
        "delivered | answered twice | first journey after (s) | all delivered after (s) | "
        "held/refused ones after (s) | /healthz | verdict |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for o in outcomes:
        pages = ", ".join(f"{f} × {n}" for f, n in sorted(o.failures.items())) or "none"
        health = ", ".join(f"{s} × {n}" for s, n in sorted(o.healthz.items()))
        verdict = "ok" if not o.broken else "FAILED: " + "; ".join(o.broken)
        if o.p95_fault is not None and o.p95_normal:
            verdict += (
                f" (other campaign p95 {o.p95_fault:.0f} ms vs {o.p95_normal:.0f} ms normal, "
                f"× {o.p95_fault / o.p95_normal:.2f})"
            )
        if o.note:
            verdict += f" — {o.note}"
        lines.append(
            f"| {o.name} | {o.attempted} | {o.confirmed} | {o.stored} | {o.lost} | {pages} | "
            f"{o.created} | {o.delivered} | {o.duplicated} | {_seconds(o.journey_recovery)} | "
            f"{_seconds(o.delivery_recovery)} | {_seconds(o.late_delay)} | {health} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- the stack
def seed(*, env: dict, idps: dict, beta_token: str, keys: dict, webhook_url: str) -> list[str]:
    """Two customers, each with an IdP, a live campaign and a webhook endpoint; returns the
    endpoints' signing secrets."""
    django_setup(env)
    from django.db import connections

    signing_secrets = [
        customer_seed(
            slug,
            idp_base=idps[slug],
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            callback_key=keys[slug],
            read_timeout=READ_TIMEOUT,
            token_endpoint=beta_token if slug == BETA else "",
            webhook_url=webhook_url,
        )
        for slug in (ALPHA, BETA)
    ]
    connections.close_all()
    return signing_secrets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="a few seconds per fault (CI)")
    parser.add_argument("--concurrency", type=int, default=None, help="participants at once")
    parser.add_argument("--seconds", type=float, default=None, help="each fault's length")
    parser.add_argument("--only", choices=FAULTS, action="append", help="run these faults only")
    args = parser.parse_args()
    concurrency = args.concurrency or (4 if args.short else 8)
    seconds = args.seconds or (4.0 if args.short else 15.0)
    timing = {
        "concurrency": concurrency,
        "lead": 1.0 if args.short else 3.0,
        "seconds": seconds,
        # Long enough for the breaker's pause and the retry schedule's first 5 s.
        "after": 8.0 if args.short else 12.0,
    }
    # The relay sends deliveries whose task was lost (the queue died with Redis, a job failed
    # while the database was down) once they are overdue by its grace: production's 60 s, 10 s
    # in the short run to keep CI short.
    grace = 10.0 if args.short else 60.0
    timing["drain"] = grace + 30.0
    for binary in ("redis-server",):
        if shutil.which(binary) is None:
            print(f"fault suite: {binary} is not installed", file=sys.stderr)
            return 2

    tmp = Path(tempfile.mkdtemp(prefix="fault-suite-"))
    log = open(tmp / "processes.log", "w")  # noqa: SIM115
    cluster = PostgresCluster()
    if cluster.bin_dir is None:
        print("fault suite: PostgreSQL's initdb and pg_ctl are not installed", file=sys.stderr)
        return 2
    redis_server = RedisServer()
    started_at = time.monotonic()
    cleanups: list = []
    try:
        cluster.init().start()
        cleanups.append(cluster.remove)
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=cluster.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        ) as admin:
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
        redis_server.start()
        cleanups.append(lambda: redis_server.running and redis_server.kill())

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        idp_ports = {ALPHA: free_port(), BETA: free_port()}
        idps = {slug: f"http://127.0.0.1:{p}" for slug, p in idp_ports.items()}
        keys = {ALPHA: secrets.token_urlsafe(32), BETA: secrets.token_urlsafe(32)}
        beta_token = SwitchableTokenEndpoint(f"{idps[BETA]}/token")
        cleanups.append(beta_token.close)
        redis_base = f"redis://127.0.0.1:{redis_server.port}"
        env = production_env(
            database_url=f"postgres://postgres@127.0.0.1:{cluster.port}/{DATABASE}",
            cache_url=f"{redis_base}/0",
            settings_module="bench.fault_settings",
            PUBLIC_BASE_URL=base,
            PORT=str(port),
            TASKS_BACKEND="rq",
            REDIS_URL=f"{redis_base}/1",
            LOG_LEVEL="WARNING",
            **NO_RATE_LIMITS,
        )
        # Production's recycling (max_requests) stays on: a worker recycled mid-outage is one
        # of the findings.
        env.pop("GUNICORN_MAX_REQUESTS")
        child_env = {**os.environ, **env}
        release(child_env)
        receiver = Receiver([])
        cleanups.append(receiver.close)
        receiver.secrets = seed(
            env=env, idps=idps, beta_token=beta_token.url, keys=keys, webhook_url=receiver.url
        )
        for slug, idp_port in idp_ports.items():
            idp = idp_stub(
                idp_port,
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                redirect_uri=f"{base}/oauth/callback/{keys[slug]}",
                log=log,
            )
            cleanups.append(lambda idp=idp: stop(idp, timeout=10))
        web = Gunicorn(child_env, log=log)
        cleanups.append(web.stop)
        supervisor = Supervisor(child_env, log, grace=grace)
        supervisor.start()
        cleanups.append(supervisor.stop)
        for slug in (ALPHA, BETA):
            wait_for(f"{idps[slug]}/jwks")
        web.wait_ready()
        stack = Stack(base, redis_server, cluster, supervisor, receiver, beta_token, Store(cluster))
        print(
            f"fault suite: app {base}, PostgreSQL :{cluster.port}, Redis :{redis_server.port}, "
            f"{concurrency} participants, faults of {seconds:.0f} s",
            flush=True,
        )
        p95_normal = normal_phase(stack, concurrency=concurrency, seconds=timing["lead"] + seconds)
        outcomes = []
        for key in args.only or FAULTS:
            print(f"  {FAULTS[key]}…", flush=True)
            outcomes.append(run_fault(key, stack, p95_normal=p95_normal, **timing))
        restarts = dict(supervisor.restarts)
        bad_signatures = receiver.bad_signatures
    finally:
        for cleanup in reversed(cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        log.close()

    facts = machine()
    print()
    print(
        f"Fault suite ({'--short' if args.short else 'full'}), {date.today()}: "
        f"{facts['cpus']} CPUs ({facts['cpu']}), Python {facts['python']}, Django "
        f"{facts['django']}; {concurrency} participants, faults of {seconds:.0f} s; "
        f"{WORKERS} rqworker_resilient + relay (--grace {grace:.0f}; restarted "
        f"{RESTART_SECONDS} s after exiting: "
        f"{restarts or 'none'}); signatures refused by the receiver: {bad_signatures}; "
        f"{time.monotonic() - started_at:.0f} s in all."
    )
    print()
    print(table(outcomes))
    broken = [o for o in outcomes if o.broken]
    if broken or bad_signatures:
        print(f"process log: {tmp / 'processes.log'}")
        return 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
