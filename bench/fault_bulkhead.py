"""Fault benchmark: one customer's IdP hangs; what does it cost the other customers' logins?

    python bench/fault_bulkhead.py                        # this checkout
    python bench/fault_bulkhead.py --root /tmp/before     # another checkout of the app, same load

Runs the app under gunicorn with production settings (`config/gunicorn.conf.py`, as
`bench/login_bench.py` does: DJANGO_DEBUG=0, fresh keys, plain http to loopback IdPs, SQLite
file, a Redis cache of its own when `redis-server` is installed) with two customers:

- "healthy": its campaign's IdP is the fast stub `bench/idp_server.py`; `--healthy` virtual
  participants (default 12) go through the whole journey again and again: landing page, login
  start, IdP, callback, prefilled form, submit, thank-you page;
- "hanging": its IdP's authorization endpoint is another stub, but its token endpoint accepts
  connections and never answers (read timeout 10 s); `--hanging` participants (default 16) log
  in again and again, a second after each failure (people pressing "Try again", and new ones
  arriving: nobody reads the Retry-After).

Two phases of `--duration` seconds: the healthy participants alone, then both. It prints the
healthy participants' logins per second and journey p50/p95/p99 (with their callback's p95) in
each phase, the ratios, what the hanging participants got, `/healthz`'s p95 (probed every
0.5 s) and the app's CPU (gunicorn's processes, from /proc). `--cap` sets
IDP_MAX_CONCURRENT_CALLS (a large one is "no bulkhead").
`--root` runs another checkout of the app (say the commit before a change, from `git archive`)
with this same load, for a before/after comparison on the same machine.
"""

import argparse
import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from idp_server import profile_of  # noqa: E402
from stack import (  # noqa: E402
    NO_RATE_LIMITS,
    Gunicorn,
    cpu_seconds,
    customer_seed,
    free_port,
    idp_stub,
    own_redis,
    percentile,
    production_env,
    release,
    stop,
    wait_for,
)

PYTHON = sys.executable
CLIENT_ID = "fault-bench"
CLIENT_SECRET = secrets.token_urlsafe(24)
HEALTHY, HANGING = "healthy-contest", "hanging-contest"
READ_TIMEOUT = 10  # the hanging integration's, as in the run
_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# ---------------------------------------------------------------------------- the hung IdP
class SilentTokenEndpoint:
    """Accepts connections and never answers them."""

    def __init__(self) -> None:
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(512)
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._held.append(connection)

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


# ---------------------------------------------------------------------------- load
@dataclass
class Figures:
    lock: threading.Lock = field(default_factory=threading.Lock)
    journeys: list[float] = field(default_factory=list)
    callbacks: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    hanging: Counter = field(default_factory=Counter)
    hanging_seconds: list[float] = field(default_factory=list)
    healthz: list[float] = field(default_factory=list)
    # CPU seconds of gunicorn (master and workers) during the phase.
    app_cpu: float = 0.0


class JourneyError(Exception):
    pass


def _browser() -> requests.Session:
    browser = requests.Session()
    browser.trust_env = False
    return browser


def healthy_journey(base: str, subject: str) -> float:
    """One participant of the healthy campaign, landing to thank-you page; returns the
    callback's time."""
    browser = _browser()

    def get(url, *, expect, **kwargs):
        response = browser.get(url, allow_redirects=False, timeout=60, **kwargs)
        if response.status_code != expect:
            raise JourneyError(f"{urlsplit(url).path}: HTTP {response.status_code}")
        return response

    get(f"{base}/c/{HEALTHY}/", expect=200)
    start = get(f"{base}/c/{HEALTHY}/login/", expect=302)
    back = get(start.headers["Location"] + f"&login_hint={subject}", expect=302)
    started = time.perf_counter()
    done = get(back.headers["Location"], expect=303)
    callback_seconds = time.perf_counter() - started
    form = get(base + done.headers["Location"], expect=200)
    token, csrf = _TOKEN.search(form.text), _CSRF.search(form.text)
    if not token or not csrf:
        raise JourneyError("form: no form token")
    profile = profile_of(subject)
    submitted = browser.post(
        f"{base}/c/{HEALTHY}/form/",
        data={
            "form_token": token.group(1),
            "csrfmiddlewaretoken": csrf.group(1),
            "f-firstname": profile["given_name"],
            "f-lastname": profile["family_name"],
            "f-email": profile["email"],
        },
        headers={"Referer": base + done.headers["Location"]},
        allow_redirects=False,
        timeout=60,
    )
    if submitted.status_code != 303:
        raise JourneyError(f"submit: HTTP {submitted.status_code}")
    get(base + submitted.headers["Location"], expect=200)
    browser.close()
    return callback_seconds


def healthy_loop(base: str, name: str, until: float, figures: Figures) -> None:
    number = 0
    while time.monotonic() < until:
        number += 1
        started = time.perf_counter()
        try:
            callback_seconds = healthy_journey(base, f"{name}-{number}-{secrets.token_hex(3)}")
        except (JourneyError, requests.RequestException) as exc:
            with figures.lock:
                figures.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        with figures.lock:
            figures.journeys.append(time.perf_counter() - started)
            figures.callbacks.append(callback_seconds)


def hanging_loop(base: str, until: float, figures: Figures) -> None:
    """A participant of the hanging campaign who presses "Try again" after each failure."""
    while time.monotonic() < until:
        browser = _browser()
        started = time.perf_counter()
        outcome = "error"
        try:
            start = browser.get(f"{base}/c/{HANGING}/login/", allow_redirects=False, timeout=60)
            if start.status_code != 302:
                outcome = f"login paused ({start.status_code})"
            else:
                back = browser.get(start.headers["Location"], allow_redirects=False, timeout=60)
                done = browser.get(back.headers["Location"], allow_redirects=False, timeout=60)
                outcome = f"callback {done.status_code}"
                if done.headers.get("Retry-After") == "5":  # the bulkhead's page
                    outcome += " busy"
                elif done.status_code == 503:
                    outcome += " paused"
        except requests.RequestException as exc:
            outcome = type(exc).__name__
        with figures.lock:
            figures.hanging[outcome] += 1
            figures.hanging_seconds.append(time.perf_counter() - started)
        browser.close()
        time.sleep(min(1.0, max(0.0, until - time.monotonic())))


def healthz_loop(base: str, until: float, figures: Figures) -> None:
    while time.monotonic() < until:
        started = time.perf_counter()
        with contextlib.suppress(requests.RequestException):
            requests.get(f"{base}/healthz", timeout=30)
        with figures.lock:
            figures.healthz.append(time.perf_counter() - started)
        time.sleep(0.5)


def run_phase(base: str, *, healthy: int, hanging: int, seconds: float, web_pid: int) -> Figures:
    figures = Figures()
    cpu_before = cpu_seconds(web_pid, with_children=True)
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=healthy_loop, args=(base, f"h{i}", until, figures))
        for i in range(healthy)
    ]
    threads += [
        threading.Thread(target=hanging_loop, args=(base, until, figures)) for _ in range(hanging)
    ]
    threads.append(threading.Thread(target=healthz_loop, args=(base, until, figures)))
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join(seconds + 90)
    figures.app_cpu = cpu_seconds(web_pid, with_children=True) - cpu_before
    return figures


# ---------------------------------------------------------------------------- Django side
def seed(root: Path, *, healthy_idp: str, hanging_idp: str, silent_port: int, keys: dict) -> None:
    """Runs in a child process on `root`'s code (see --seed)."""
    sys.path.insert(0, str(root))
    import django

    django.setup()
    for slug, idp_base, token_endpoint in (
        (HEALTHY, healthy_idp, f"{healthy_idp}/token"),
        (HANGING, hanging_idp, f"http://127.0.0.1:{silent_port}/token"),
    ):
        customer_seed(
            slug,
            idp_base=idp_base,
            client_id=CLIENT_ID,
            client_secret=os.environ["BENCH_CLIENT_SECRET"],
            callback_key=keys[slug],
            read_timeout=READ_TIMEOUT,
            token_endpoint=token_endpoint,
        )


@contextlib.contextmanager
def cache_server():
    """CACHE_URL, else a redis-server of its own (the cache; flushed with it) when installed,
    else local memory."""
    if os.environ.get("CACHE_URL"):
        yield os.environ["CACHE_URL"]
        return
    with own_redis() as redis_base:
        yield f"{redis_base}/0" if redis_base else "locmemcache://fault-bench"


# ---------------------------------------------------------------------------- report
def summary(name: str, figures: Figures, seconds: float) -> dict:
    journeys_ms = [s * 1000 for s in figures.journeys]
    return {
        "phase": name,
        "logins": len(journeys_ms),
        "logins_per_s": len(journeys_ms) / seconds,
        "p50": percentile(journeys_ms, 0.5),
        "p95": percentile(journeys_ms, 0.95),
        "p99": percentile(journeys_ms, 0.99),
        "callback_p95": percentile([s * 1000 for s in figures.callbacks], 0.95),
        "healthz_p95": percentile([s * 1000 for s in figures.healthz], 0.95),
        "app_cpu": figures.app_cpu / seconds,
        "errors": len(figures.errors),
    }


def report(rows: list[dict], hanging: Figures, *, label: str) -> str:
    base, fault = rows
    lines = [
        f"#### {label}",
        "",
        "| phase | healthy logins/s | journey p50 ms | p95 ms | p99 ms | callback p95 ms | "
        "/healthz p95 ms | app CPU (cores) | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['phase']} | {row['logins_per_s']:.1f} | {row['p50']:.0f} | {row['p95']:.0f} "
            f"| {row['p99']:.0f} | {row['callback_p95']:.0f} | {row['healthz_p95']:.0f} "
            f"| {row['app_cpu']:.2f} | {row['errors']} |"
        )
    lines += [
        "",
        f"Under the hang: p95 × {fault['p95'] / base['p95']:.2f}, "
        f"p99 × {fault['p99'] / base['p99']:.2f}, logins/s × "
        f"{fault['logins_per_s'] / base['logins_per_s']:.2f}. The hanging campaign's "
        f"participants got: "
        + ", ".join(f"{outcome} × {n}" for outcome, n in sorted(hanging.hanging.items()))
        + f" (their attempt's p95 {percentile(hanging.hanging_seconds, 0.95):.1f} s).",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=BENCH.parent, help="the app's checkout")
    parser.add_argument("--healthy", type=int, default=12)
    parser.add_argument("--hanging", type=int, default=16)
    parser.add_argument("--duration", type=float, default=45.0, help="seconds per phase")
    parser.add_argument("--label", default="", help="the report's title")
    parser.add_argument(
        "--cap", type=int, default=0, help="IDP_MAX_CONCURRENT_CALLS (default: the app's)"
    )
    parser.add_argument("--seed", nargs=4, metavar=("HEALTHY_IDP", "HANGING_IDP", "PORT", "KEYS"))
    args = parser.parse_args()
    root = args.root.resolve()
    if args.seed:
        healthy_idp, hanging_idp, port, keys = args.seed
        healthy_key, hanging_key = keys.split(",")
        seed(
            root,
            healthy_idp=healthy_idp,
            hanging_idp=hanging_idp,
            silent_port=int(port),
            keys={HEALTHY: healthy_key, HANGING: hanging_key},
        )
        return 0

    tmp = Path(tempfile.mkdtemp(prefix="fault-bulkhead-"))
    with cache_server() as cache_url:
        return bench(args, root=root, tmp=tmp, cache_url=cache_url)


def bench(args, *, root: Path, tmp: Path, cache_url: str) -> int:
    port, healthy_port, hanging_port = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    healthy_idp, hanging_idp = (
        f"http://127.0.0.1:{healthy_port}",
        f"http://127.0.0.1:{hanging_port}",
    )
    keys = {HEALTHY: secrets.token_urlsafe(32), HANGING: secrets.token_urlsafe(32)}
    silent = SilentTokenEndpoint()
    env = production_env(
        database_url=f"sqlite:///{tmp}/bench.sqlite3",
        cache_url=cache_url,
        settings_module="bench.login_settings",
        PUBLIC_BASE_URL=base,
        PORT=str(port),
        LOG_LEVEL="WARNING",
        BENCH_CLIENT_SECRET=CLIENT_SECRET,
        **NO_RATE_LIMITS,
        **({"IDP_MAX_CONCURRENT_CALLS": str(args.cap)} if args.cap else {}),
    )
    child_env = {**os.environ, **env, "PYTHONPATH": str(root)}
    release(child_env, root=root)
    subprocess.run(
        [
            PYTHON,
            str(Path(__file__).resolve()),
            "--root",
            str(root),
            "--seed",
            healthy_idp,
            hanging_idp,
            str(silent.port),
            f"{keys[HEALTHY]},{keys[HANGING]}",
        ],
        cwd=root,
        env=child_env,
        check=True,
    )
    log = open(tmp / "processes.log", "w")  # noqa: SIM115
    processes = [
        idp_stub(
            idp_port,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=f"{base}/oauth/callback/{keys[slug]}",
            log=log,
        )
        for slug, idp_port in ((HEALTHY, healthy_port), (HANGING, hanging_port))
    ]
    web = Gunicorn(child_env, log=log, root=root)
    try:
        wait_for(f"{healthy_idp}/jwks")
        wait_for(f"{hanging_idp}/jwks")
        web.wait_ready()
        phase = {"healthy": args.healthy, "seconds": args.duration, "web_pid": web.pid}
        run_phase(base, **{**phase, "seconds": 3}, hanging=0)  # warm-up
        print(f"fault bench: {root}, cache {cache_url.split(':')[0]}", flush=True)
        alone = run_phase(base, **phase, hanging=0)
        hung = run_phase(base, **phase, hanging=args.hanging)
    finally:
        web.stop()
        for process in processes:
            stop(process, timeout=10)
        silent.close()
        log.close()
    rows = [
        summary(f"{args.healthy} healthy participants alone", alone, args.duration),
        summary(f"the same, {args.hanging} others on the hanging IdP", hung, args.duration),
    ]
    text = report(rows, hung, label=args.label or str(root))
    print(text)
    for figures in (alone, hung):
        if figures.errors:
            print("errors (first 5):", *figures.errors[:5], sep="\n  ")
    if not (alone.errors or hung.errors):
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"process log: {tmp / 'processes.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
