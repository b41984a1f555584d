"""The floor under the login benchmark: what a request costs before our code does anything.

    python bench/floor_bench.py [--concurrency 50] [--duration 15]

Runs the same gunicorn configuration as bench/login_bench.py (production settings, gthread,
DJANGO_DEBUG=0, SQLite, the Redis cache when there is one) against these apps, and drives
`--concurrency` clients at them for a fixed time:

- `wsgi`: a bare WSGI callable, no Django: gunicorn's own cost per request;
- `empty`: Django with every middleware of ours, a view that returns "ok";
- `page`: the same, rendering a small template with the tags our pages use (static, translate,
  csrf_token);
- `session`: the empty view writing the session (as every step of a login does);
- `egress`: the empty view making one POST with `requests` to a bare WSGI server on 127.0.0.1
  (as the callback's token and userinfo calls to the IdP);
- `insert`: the empty view running one single-row INSERT on the database's cursor.

Prints the app's CPU per request (gunicorn master and workers, from /proc), then the journey of
bench/login_bench.py at the floor (`JOURNEY_REQUESTS`, `JOURNEY_WORK`): its 7 requests, of
which 4 render a page, 2 write the session, 2 call the IdP and 5 are the single-row statements
the specification needs (the login state's insert and its single-use claim, the participant's
upsert, the participation and its webhook outbox row), each at the cost these apps measure above
the empty answer.
`bench/login_bench.py --floor` runs the same apps right after its load and prints its journey
against this floor (issue 20, target 2).
"""

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from stack import (  # noqa: E402
    PYTHON,
    Gunicorn,
    bench_cache_url,
    cpu_seconds,
    free_port,
    production_env,
    release,
    stop,
    throwaway_database,
    wait_for,
)

APPS = {
    "wsgi": ("bench.floor_wsgi:application", "/"),
    "empty": ("config.wsgi", "/empty/"),
    "page": ("config.wsgi", "/page/"),
    "session": ("config.wsgi", "/session/"),
    "egress": ("config.wsgi", "/egress/"),
    "insert": ("config.wsgi", "/insert/"),
}
# bench/login_bench.py's journey (landing, campaign form, login start, callback, prefilled form,
# submit, thank-you page), counted in what the floor apps measure: its requests at the empty
# answer's cost, and each other app's cost above it times how often the journey does it.
JOURNEY_REQUESTS = 7
JOURNEY_WORK = {"page": 4, "session": 2, "egress": 2, "insert": 5}
JOURNEY_APPS = ("empty", *JOURNEY_WORK)
# Seconds each app is measured, after its warm-up (`--duration`, `--warmup`).
DURATION = 15.0
WARMUP = 3.0


def drive(url: str, *, concurrency: int, duration: float) -> tuple[int, int]:
    """(requests answered 200, errors) by `concurrency` keep-alive clients for `duration` s."""
    stop = time.monotonic() + duration
    counts = {"ok": 0, "errors": 0}
    lock = threading.Lock()

    def client():
        session = requests.Session()
        session.trust_env = False
        ok = errors = 0
        while time.monotonic() < stop:
            try:
                response = session.get(url, timeout=30)
                ok, errors = (ok + 1, errors) if response.status_code == 200 else (ok, errors + 1)
            except requests.RequestException:
                errors += 1
        with lock:
            counts["ok"] += ok
            counts["errors"] += errors

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts["ok"], counts["errors"]


def measure(
    name: str,
    *,
    env: dict,
    concurrency: int,
    duration: float,
    warmup: float,
    gunicorn_args: tuple[str, ...] = (),
) -> dict:
    module, path = APPS[name]
    server = Gunicorn(
        {**env, "PORT": str(free_port())},
        log=subprocess.DEVNULL,
        app=module,
        args=gunicorn_args,
    )
    url = server.base + path
    try:
        wait_for(url)
        drive(url, concurrency=concurrency, duration=warmup)
        before = cpu_seconds(server.pid, with_children=True)
        started = time.monotonic()
        ok, errors = drive(url, concurrency=concurrency, duration=duration)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(server.pid, with_children=True) - before
    finally:
        server.stop(timeout=30)
    return {
        "app": name,
        "requests": ok,
        "errors": errors,
        "per_second": ok / elapsed,
        "cpu_ms": cpu * 1000 / max(ok, 1),
    }


@contextlib.contextmanager
def egress_target(env: dict):
    """The server the `egress` app calls, yielding its URL: bench/floor_wsgi.py under gunicorn
    (one process, its own: the IdP's CPU is not the app's)."""
    port = free_port()
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            # Keeps the connection, as an IdP does (the app's egress keeps one per process).
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--keep-alive",
            "30",
            "--log-level",
            "warning",
            "bench.floor_wsgi:application",
        ],
        cwd=ROOT,
        env={k: v for k, v in env.items() if not k.startswith(("GUNICORN_", "WEB_"))},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/")
        yield f"http://127.0.0.1:{port}/token"
    finally:
        stop(server, group=True)


def work_above_empty(per_request: dict[str, float]) -> dict[str, float]:
    """Each app of `JOURNEY_WORK`'s cost above the empty answer's (never below 0), from each
    app's cost per request (`JOURNEY_APPS`: CPU time or instructions)."""
    empty = per_request["empty"]
    return {app: max(per_request[app] - empty, 0.0) for app in JOURNEY_WORK}


def journey_total(per_request: dict[str, float]) -> float:
    """The journey at the floor from each app's cost per request: its requests at the empty
    answer's cost, and each other app's cost above it times how often the journey does it."""
    above = work_above_empty(per_request)
    return JOURNEY_REQUESTS * per_request["empty"] + sum(
        count * above[app] for app, count in JOURNEY_WORK.items()
    )


def journey_floor(rows: dict[str, dict]) -> tuple[float, str]:
    """(ms, how it adds up) of the journey from the measured apps' CPU per request."""
    per_request = {app: row["cpu_ms"] for app, row in rows.items()}
    total, above = journey_total(per_request), work_above_empty(per_request)
    terms = [f"{JOURNEY_REQUESTS} requests × {per_request['empty']:.2f}"]
    terms += [f"{count} {app} × {above[app]:.2f}" for app, count in JOURNEY_WORK.items()]
    return total, " + ".join(terms) + f" = {total:.1f} ms"


def measure_all(
    names,
    *,
    env: dict,
    concurrency: int,
    duration: float,
    warmup: float,
    gunicorn_args=(),
) -> dict[str, dict]:
    """Each app of `names` in turn (the egress target up while they run); prints the table."""
    rows = {}
    with egress_target(env) as egress_url:
        print("| app | requests/s | errors | app CPU per request |")
        print("|---|---:|---:|---:|")
        for name in names:
            row = rows[name] = measure(
                name,
                env={**env, "FLOOR_EGRESS_URL": egress_url},
                concurrency=concurrency,
                duration=duration,
                warmup=warmup,
                gunicorn_args=tuple(gunicorn_args),
            )
            print(
                f"| {row['app']} | {row['per_second']:.0f} | {row['errors']} | "
                f"{row['cpu_ms']:.2f} ms |",
                flush=True,
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description="CPU floor of the serving stack.")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=DURATION)
    parser.add_argument("--warmup", type=float, default=WARMUP)
    parser.add_argument(
        "--apps", default=",".join(APPS), help="comma-separated, of: " + ", ".join(APPS)
    )
    parser.add_argument(
        "gunicorn_args", nargs="*", help="after --, more gunicorn options (e.g. -- --threads 2)"
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="floor-bench-"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp}/floor.sqlite3"
    # On PostgreSQL, a database of its own beside the one named, dropped at the end.
    with throwaway_database(url) as database_url:
        try:
            return _run(args, database_url)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _run(args, database_url: str) -> int:
    env = {
        **os.environ,
        **production_env(
            database_url=database_url,
            cache_url=bench_cache_url(),
            settings_module="bench.floor_settings",
        ),
    }
    release(env)
    print(
        f"floor bench: {args.concurrency} clients, {args.duration:.0f} s per app, "
        f"{os.cpu_count()} CPUs, gunicorn config/gunicorn.conf.py"
    )
    rows = measure_all(
        args.apps.split(","),
        env=env,
        concurrency=args.concurrency,
        duration=args.duration,
        warmup=args.warmup,
        gunicorn_args=args.gunicorn_args,
    )
    if all(app in rows for app in JOURNEY_APPS):
        print(f"login_bench's journey at the floor: {journey_floor(rows)[1]}")
    return 1 if any(row["errors"] for row in rows.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
