"""The floor under the login benchmark: what a request costs before our code does anything.

    python bench/floor_bench.py [--concurrency 50] [--duration 15]

Runs the same gunicorn configuration as bench/login_bench.py (production settings, gthread,
DJANGO_DEBUG=0, SQLite, the Redis cache when there is one) against four apps, and drives
`--concurrency` clients (one keep-alive session each) at them for a fixed time:

- `wsgi`: a bare WSGI callable, no Django: gunicorn's own cost per request;
- `empty`: Django with every middleware of ours, a view that returns "ok";
- `page`: the same, rendering a small template with the tags our pages use (static, translate,
  csrf_token);
- `session`: the empty view writing the session (as every step of a login does).

Prints the app's CPU per request (gunicorn master and workers, from /proc) and the same for the
6 requests of issue 9's journey (campaign page, login start, callback, form, submit, thank-you
page), so that the login benchmark's figure can be read against the stack's own floor.
"""

import argparse
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
    bench_cache_url,
    cpu_seconds,
    free_port,
    production_env,
    release,
    throwaway_database,
    wait_for,
)

JOURNEY_REQUESTS = 6
APPS = {
    "wsgi": ("bench.floor_wsgi:application", "/"),
    "empty": ("config.wsgi", "/empty/"),
    "page": ("config.wsgi", "/page/"),
    "session": ("config.wsgi", "/session/"),
}


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


def measure(name: str, args, env: dict) -> dict:
    module, path = APPS[name]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", *args.gunicorn_args, module],
        cwd=ROOT,
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(base + path)
        drive(base + path, concurrency=args.concurrency, duration=args.warmup)
        before = cpu_seconds(server.pid, with_children=True)
        started = time.monotonic()
        ok, errors = drive(base + path, concurrency=args.concurrency, duration=args.duration)
        elapsed = time.monotonic() - started
        cpu = cpu_seconds(server.pid, with_children=True) - before
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    per_request = cpu * 1000 / max(ok, 1)
    return {
        "app": name,
        "requests": ok,
        "errors": errors,
        "per_second": ok / elapsed,
        "cpu_ms": per_request,
        "journey_ms": per_request * JOURNEY_REQUESTS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="CPU floor of the serving stack.")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
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
    print("| app | requests/s | errors | app CPU per request | × 6 requests (issue 9's journey) |")
    print("|---|---:|---:|---:|---:|")
    failed = False
    for name in args.apps.split(","):
        row = measure(name, args, env)
        failed |= row["errors"] > 0
        print(
            f"| {row['app']} | {row['per_second']:.0f} | {row['errors']} | "
            f"{row['cpu_ms']:.2f} ms | {row['journey_ms']:.1f} ms |",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
