"""Login benchmark: the whole participant journey under gunicorn with production settings.

    make bench                                   # SQLite (a temporary file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_sso make bench
    python bench/login_bench.py --concurrency 50 --duration 20 [--write BENCHMARKS.md]

Starts a fast local IdP (`bench/idp_server.py`, its own process) and the app under gunicorn
(`config/gunicorn.conf.py`, DJANGO_DEBUG=0, fresh keys, plain http on loopback), migrates and
seeds one campaign whose integration points at the IdP, then runs N virtual participants (one
thread and one fresh browser each) through: landing page → campaign form → login start → IdP
authorize → callback → prefilled form → submit → thank-you page, again and again for a fixed
time (`--from-landing`: the login button of the landing page, without the form page before it).

Every journey is checked: each step's status and target, the prefilled values on the form, the
thank-you page; at the end every stored Participation is compared with what its participant
submitted. A broken flow counts as errors, never as speed.

Prints logins/s, p50/p95/p99 per step, the app's CPU per login (gunicorn master and workers,
from /proc), the IdP stub's CPU per login, SQL queries per step (one journey through Django's
test client with CaptureQueriesContext, in this process) and the errors. With --write, the
figures and the machine go into BENCHMARKS.md (one section per database).
"""

import argparse
import os
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import floor_bench  # noqa: E402
from idp_server import profile_of  # noqa: E402
from stack import (  # noqa: E402
    NO_RATE_LIMITS,
    Gunicorn,
    bench_cache_url,
    cpu_seconds,
    django_setup,
    free_port,
    idp_stub,
    is_postgres,
    machine,
    percentile,
    production_env,
    release,
    rss_kib,
    stop,
    throwaway_database,
    wait_for,
    webhook_endpoint_create,
)

CLIENT_ID = "campaign-sso-bench"
CLIENT_SECRET = secrets.token_urlsafe(24)
# The bench integration's callback key (random, like every integration's).
CALLBACK_KEY = secrets.token_urlsafe(16)
SLUG = "bench-contest"
STEPS = (
    "landing",
    "campaign_form",
    "login_start",
    "idp_authorize",
    "callback",
    "form",
    "submit",
    "thanks",
)
# --from-landing: the login starts from the landing page's button (issue 9's journey, one
# campaign page, 6 requests) instead of from the form page's (7 requests).
FROM_LANDING = False


# ---------------------------------------------------------------------------- journeys
@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    completed: int = 0
    errors: list[str] = field(default_factory=list)
    # subject → the values the participant submitted, for the database check at the end.
    submitted: dict[str, dict] = field(default_factory=dict)


class JourneyError(Exception):
    pass


_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _input_value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html)
    if not match:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return unescape(value.group(1)) if value else ""


def journey(
    base: str,
    idp_base: str,
    subject: str,
    timings: dict[str, float],
    *,
    finish_base: str = "",
    public_base: str = "",
) -> dict:
    """One participant from the campaign page to the thank-you page; returns what they sent.

    `finish_base`: the callback and what follows it go to this server instead of `base` (the
    IdP redirects to `public_base`, the PUBLIC_BASE_URL both servers share, and a load balancer
    would send the browser to either)."""
    finish_base = finish_base or base
    public_base = public_base or base
    browser = requests.Session()
    browser.trust_env = False

    def step(name, method, url, *, expect, **kwargs):
        started = time.perf_counter()
        response = browser.request(method, url, allow_redirects=False, timeout=30, **kwargs)
        timings[name] = time.perf_counter() - started
        if response.status_code != expect:
            raise JourneyError(f"{name}: HTTP {response.status_code}, expected {expect}")
        return response

    landing = step("landing", "GET", f"{base}/c/{SLUG}/", expect=200)
    if f"/c/{SLUG}/form/" not in landing.text:
        raise JourneyError("landing: no 'Take part' link")
    page = landing
    if not FROM_LANDING:
        page = step("campaign_form", "GET", f"{base}/c/{SLUG}/form/", expect=200)
    login = re.search(rf'href="(/c/{SLUG}/login/[^"]*)"', page.text)
    if not login:
        raise JourneyError("no login button")
    start = step("login_start", "GET", base + unescape(login.group(1)), expect=302)
    authorize = start.headers["Location"]
    if not authorize.startswith(f"{idp_base}/authorize?"):
        raise JourneyError(f"login_start: redirected to {authorize[:60]}")
    # The participant "types their name" at the IdP: login_hint picks the IdP account.
    back = step("idp_authorize", "GET", f"{authorize}&login_hint={subject}", expect=302)
    callback = back.headers["Location"]
    if not callback.startswith(f"{public_base}/oauth/callback/{CALLBACK_KEY}?"):
        raise JourneyError("idp_authorize: not sent back to the callback")
    base = finish_base
    done = step("callback", "GET", base + callback.removeprefix(public_base), expect=303)
    form_url = done.headers["Location"]
    if urlsplit(form_url).path != f"/c/{SLUG}/form/":
        raise JourneyError(f"callback: redirected to {form_url[:60]}")
    form = step("form", "GET", f"{base}{form_url}", expect=200)
    profile = profile_of(subject)
    expected = {
        "firstname": profile["given_name"],
        "lastname": profile["family_name"],
        "email": profile["email"],
    }
    for variable, value in expected.items():
        shown = _input_value(form.text, f"f-{variable}")
        if shown != value:
            raise JourneyError(f"form: {variable} prefilled {shown!r}, expected {value!r}")
    token, csrf = _TOKEN.search(form.text), _CSRF.search(form.text)
    if not token or not csrf:
        raise JourneyError("form: no form token or CSRF token")
    # The participant corrects one value and adds another: the stored row must have both.
    sent = {**expected, "city": f"Namur {subject[-6:]}", "lastname": expected["lastname"] + "-B"}
    data = {f"f-{k}": v for k, v in sent.items()}
    data.update(
        {
            "form_token": token.group(1),
            "csrfmiddlewaretoken": csrf.group(1),
            "f-optin_newsletter": "on",
        }
    )
    submitted = step(
        "submit",
        "POST",
        f"{base}/c/{SLUG}/form/",
        data=data,
        headers={"Referer": f"{base}{form_url}"},
        expect=303,
    )
    thanks_url = submitted.headers["Location"]
    if urlsplit(thanks_url).path != f"/c/{SLUG}/thanks/":
        raise JourneyError(f"submit: redirected to {thanks_url[:60]}")
    thanks = step("thanks", "GET", f"{base}{thanks_url}", expect=200)
    if "thank" not in thanks.text.lower():
        raise JourneyError("thanks: not the thank-you page")
    browser.close()
    return {**sent, "optin_newsletter": True}


def participant_loop(
    base,
    idp_base,
    deadline,
    results: Results,
    name: str,
    *,
    record: bool,
    stop_at: int = 0,
    servers: tuple[str, str] | None = None,
):
    """Journeys one after another until `deadline` (or `stop_at` complete logins). With
    `servers`, each journey starts on one of the two and finishes on the other, in turn."""
    number = 0
    while time.monotonic() < deadline and not (stop_at and results.completed >= stop_at):
        number += 1
        subject = f"{name}-{number}-{secrets.token_hex(3)}"
        timings: dict[str, float] = {}
        route = {}
        if servers:
            start, finish = servers[number % 2], servers[(number + 1) % 2]
            route = {"finish_base": finish, "public_base": base}
        try:
            sent = journey(start if servers else base, idp_base, subject, timings, **route)
        except (JourneyError, requests.RequestException) as exc:
            with results.lock:
                results.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        with results.lock:
            results.submitted[subject] = sent
            if record:
                results.completed += 1
                for step_name, seconds in timings.items():
                    results.latencies[step_name].append(seconds)


def run_load(
    base,
    idp_base,
    *,
    concurrency: int,
    duration: float,
    results: Results,
    record,
    stop_at: int = 0,
    servers: tuple[str, str] | None = None,
):
    deadline = time.monotonic() + duration
    threads = [
        threading.Thread(
            target=participant_loop,
            args=(base, idp_base, deadline, results, f"vp{i:03d}"),
            kwargs={"record": record, "stop_at": stop_at, "servers": servers},
            daemon=True,
        )
        for i in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(duration + 60)


# ---------------------------------------------------------------------------- Django side
def seed(*, idp_base: str, webhook_url: str = "") -> str:
    """The bench customer, its integration at the IdP stub and its campaign; with
    `webhook_url`, a participation.created endpoint there. Returns its signing secret."""
    from accounts.models import Account
    from campaigns.models import Campaign, CampaignField, CampaignStatus, FieldType
    from integrations.models import MappingRule, OAuthIntegration

    account = Account.objects.create(name="Bench Customer", slug="bench", sso_oauth_enabled=True)
    integration = OAuthIntegration.objects.create(
        account=account,
        display_name="Bench IdP",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        authorization_endpoint=f"{idp_base}/authorize",
        token_endpoint=f"{idp_base}/token",
        profile_endpoint=f"{idp_base}/userinfo",
        jwks_uri=f"{idp_base}/jwks",
        issuer=idp_base,
        iss_parameter_supported=True,
        scope="openid email profile",
        use_pkce=True,
        connect_timeout=5,
        read_timeout=10,
        # A fixed key: the IdP stub, started before the seed, registers this redirect URI.
        callback_key=CALLBACK_KEY,
    )
    for position, (target, source, transform) in enumerate(
        [
            ("firstname", "given_name", "strip"),
            ("lastname", "family_name", "strip"),
            ("email", "email", "strip|lower"),
            ("language", "locale", "lower|split:-:0"),
        ]
    ):
        MappingRule.objects.create(
            integration=integration,
            target=target,
            source=source,
            transform=transform,
            position=position,
        )
    campaign = Campaign.objects.create(
        account=account,
        title="Bench contest",
        title_fr="Concours de mesure",
        slug=SLUG,
        status=CampaignStatus.LIVE,
        languages=["en", "fr"],
        oauth_integration=integration,
    )
    for position, (variable, field_type, label, required) in enumerate(
        [
            ("firstname", FieldType.TEXT, "First name", True),
            ("lastname", FieldType.TEXT, "Last name", True),
            ("email", FieldType.EMAIL, "E-mail address", True),
            ("city", FieldType.TEXT, "City", False),
            ("optin_newsletter", FieldType.CHECKBOX, "Newsletter", False),
        ]
    ):
        CampaignField.objects.create(
            campaign=campaign,
            variable=variable,
            field_type=field_type,
            label_en=label,
            label_fr=label,
            required=required,
            position=position,
        )
    return webhook_endpoint_create(account, url=webhook_url) if webhook_url else ""


_CLIENT = None
# (step name, cProfile.Profile) while `--profile-step` runs.
_STEP_PROFILER = None


def queries_per_step(
    idp_base: str,
    subject: str = "query-count",
    cpu: dict[str, list[float]] | None = None,
    *,
    capture: bool = False,
) -> dict[str, int]:
    """One journey through Django's test client (this process); with `capture`, the SQL
    statements of each step counted (without, the counts are 0).

    With `cpu`, each step's CPU time is appended to it: the steps one by one, single-threaded,
    which the load run cannot tell apart. The client is reused (a new one would load the
    middleware, WhiteNoise's file scan included, every time) with its cookies cleared.

    Only the query counts capture: capturing puts Django's debug cursor on the connection,
    which records every statement and on SQLite runs one more to quote its parameters, work the
    server does not do, so CPU times, profiles and instruction counts run without it.
    """
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    global _CLIENT
    client = _CLIENT = _CLIENT or Client()
    client.cookies.clear()
    counts: dict[str, int] = {}

    def counted(name, method, path, **kwargs):
        started = time.process_time()
        profiling = _STEP_PROFILER is not None and name == _STEP_PROFILER[0]
        if profiling:
            _STEP_PROFILER[1].enable()
        with CaptureQueriesContext(connection) if capture else nullcontext([]) as queries:
            response = getattr(client, method)(path, **kwargs)
        if profiling:
            _STEP_PROFILER[1].disable()
        if cpu is not None:
            cpu.setdefault(name, []).append(time.process_time() - started)
        counts[name] = len(queries)
        return response

    counted("landing", "get", f"/c/{SLUG}/")
    counted("campaign_form", "get", f"/c/{SLUG}/form/")
    start = counted("login_start", "get", f"/c/{SLUG}/login/")
    back = requests.get(
        start["Location"] + f"&login_hint={subject}", allow_redirects=False, timeout=10
    )
    query = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["Location"]).query).items()}
    counted("callback", "get", f"/oauth/callback/{CALLBACK_KEY}", data=query)
    form = counted("form", "get", f"/c/{SLUG}/form/")
    profile = profile_of(subject)
    data = {
        "form_token": _TOKEN.search(form.text).group(1),
        "f-firstname": profile["given_name"],
        "f-lastname": profile["family_name"],
        "f-email": profile["email"],
        "f-city": "Namur",
    }
    # Sent as a browser sends a form without `enctype`, and as the load run's journeys do:
    # urlencoded. (The test client's default, multipart, costs the server about 1.4 million
    # instructions more to parse: BENCHMARKS.md, "Eleventh round".)
    submitted = counted(
        "submit",
        "post",
        f"/c/{SLUG}/form/",
        data=urlencode(data),
        content_type="application/x-www-form-urlencoded",
    )
    assert submitted.status_code == 303, submitted.status_code
    counted("thanks", "get", submitted["Location"])
    return counts


class _SamplerSwitch:
    """pyinstrument's profiler behind cProfile's enable/disable, for one step's requests."""

    def __init__(self, profiler) -> None:
        self._profiler = profiler

    def enable(self) -> None:
        self._profiler.start()

    def disable(self) -> None:
        self._profiler.stop()


def step_cpu_print(idp_base: str, count: int) -> None:
    """Each step's CPU, median of `count` journeys in this process (no load, no profiler)."""
    queries_per_step(idp_base, "steps-warm")
    cpu: dict[str, list[float]] = {}
    for number in range(count):
        queries_per_step(idp_base, f"steps-{number}", cpu=cpu)
    total = 0.0
    for name, values in cpu.items():
        median = statistics.median(values) * 1000
        total += median
        print(f"{name:>14}: {median:6.2f} ms CPU")
    print(f"{'journey':>14}: {total:6.2f} ms CPU (sum of the medians)")


def profile_journeys(idp_base: str, count: int, step: str = "") -> None:
    """Run `count` journeys in this process under pyinstrument and print where the CPU goes."""
    from pyinstrument import Profiler  # the `bench` extra

    queries_per_step(idp_base, "profile-warm")  # imports, templates, the JWKS cache
    started = time.process_time()
    for number in range(count):
        queries_per_step(idp_base, f"unprofiled-{number}")
    cpu = (time.process_time() - started) / count
    print(f"in-process journey (test client, no profiler): {cpu * 1000:.1f} ms CPU each")
    if step:
        # One step only, with cProfile (deterministic: every call counted, CPU-heavy frames
        # stand out by their own time).
        import cProfile
        import pstats

        global _STEP_PROFILER
        if os.environ.get("PROFILE_SAMPLING") == "1":
            # Sampling instead: the ORM's and the template engine's many small calls are not
            # inflated by the profiler's own cost per call.
            sampler = Profiler(interval=0.0002)
            _STEP_PROFILER = (step, _SamplerSwitch(sampler))
            for number in range(count):
                queries_per_step(idp_base, f"sampled-{number}")
            show_all = os.environ.get("PROFILE_ALL") == "1"
            print(sampler.output_text(unicode=True, color=False, show_all=show_all))
            return
        _STEP_PROFILER = (step, cProfile.Profile(time.process_time))
        for number in range(count):
            queries_per_step(idp_base, f"cprofile-{number}")
        stats = pstats.Stats(_STEP_PROFILER[1])
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(25)
        return
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for number in range(count):
        queries_per_step(idp_base, f"profile-{number}")
    profiler.stop()
    print(
        profiler.output_text(
            unicode=True, color=False, show_all=os.environ.get("PROFILE_ALL") == "1"
        )
    )


def check_database(results: Results, *, in_process: int) -> list[str]:
    """Every journey that reached the thank-you page stored exactly what was submitted."""
    from participants.models import Participation

    rows = {
        p.participant.subject: p
        for p in Participation.objects.filter(campaign__slug=SLUG).select_related("participant")
    }
    problems = []
    for subject, sent in results.submitted.items():
        row = rows.get(subject)
        if row is None:
            problems.append(f"database: no participation for {subject}")
            continue
        for variable, value in sent.items():
            if row.values.get(variable) != value:
                problems.append(
                    f"database: {subject} {variable}={row.values.get(variable)!r}, sent {value!r}"
                )
        if row.prefilled.get("firstname") != sent["firstname"] or "lastname" not in row.changed:
            problems.append(f"database: {subject} prefilled/changed flags wrong")
    # The in-process journeys (query count, CPU per step) are not the load's.
    extra = len(rows) - len(results.submitted) - in_process
    if extra:
        problems.append(f"database: {extra} participations nobody reported")
    return problems


# ---------------------------------------------------------------------------- report
def report(**figures) -> str:
    r: Results = figures["results"]
    logins = r.completed
    lines = [
        f"### {figures['database']} — {figures['concurrency']} participants, "
        f"{figures['duration']:.0f} s"
        + (", login from the landing page (6 requests)" if FROM_LANDING else ""),
        "",
        f"Machine: {figures['machine']['cpus']} CPUs ({figures['machine']['cpu']}), Python "
        f"{figures['machine']['python']}, Django {figures['machine']['django']}, "
        f"{figures['database']}, cache {figures['cache']}; gunicorn {figures['workers']} "
        f"workers × {figures['threads']} threads; load average before the run "
        f"{figures['machine']['load']}.",
        "",
        f"- complete logins: **{logins}** in {figures['elapsed']:.1f} s = "
        f"**{logins / figures['elapsed']:.1f} logins/s**",
        f"- errors: **{len(r.errors)}**" + (f" (first: {r.errors[0]})" if r.errors else ""),
        f"- database check: {figures['db_problems'] or 'every participation matches'}",
        f"- app CPU per login (gunicorn master + workers): **{figures['app_cpu_ms']:.1f} ms**",
        f"- IdP stub CPU per login: {figures['idp_cpu_ms']:.1f} ms "
        f"(bench client: {figures['client_cpu_ms']:.1f} ms)",
    ]
    if figures.get("floor"):
        floor_ms, terms, floor_errors = figures["floor"]
        lines.append(
            f"- the same journey at the stack's floor (`bench/floor_bench.py`, right after, "
            f"{floor_errors} errors): {terms}; this journey **×"
            f"{figures['app_cpu_ms'] / floor_ms:.1f}** the floor (issue 20 asks at most ×1.5)"
        )
    lines += [
        "",
        "| step | p50 ms | p95 ms | p99 ms | SQL queries | CPU ms (alone) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for step_name in STEPS:
        if not r.latencies[step_name]:
            continue  # the form page before login, with --from-landing
        values = [v * 1000 for v in r.latencies[step_name]]
        queries = figures["queries"].get(step_name, "–")  # the IdP step is not ours
        alone = figures["step_cpu"].get(step_name)
        alone = f"{statistics.median(alone) * 1000:.1f}" if alone else "–"
        lines.append(
            f"| {step_name} | {percentile(values, 0.5):.1f} | {percentile(values, 0.95):.1f} | "
            f"{percentile(values, 0.99):.1f} | {queries} | {alone} |"
        )
    cold = [
        f"{step} {count}"
        for step, count in figures["cold_queries"].items()
        if count != figures["queries"].get(step)
    ]
    lines += [
        "",
        "SQL queries are those of a journey once the campaign is in the process's cache; the very "
        "first journey after a start or a change costs "
        + (", ".join(cold) if cold else "the same")
        + ".",
    ]
    return "\n".join(lines) + "\n"


def write_section(path: Path, database: str, text: str) -> None:
    """Replace this database's section in BENCHMARKS.md (or add it), keeping the others."""
    begin, end = f"<!-- login-bench:{database} -->", f"<!-- /login-bench:{database} -->"
    block = f"{begin}\n{text}{end}\n"
    current = path.read_text() if path.exists() else ""
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        current = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        current = current.rstrip("\n") + ("\n\n" if current else "") + block
    path.write_text(current)


# ---------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description="Participant login benchmark.")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--workers", type=int, default=None, help="default: gunicorn config's")
    parser.add_argument("--threads", type=int, default=None, help="default: gunicorn config's")
    parser.add_argument(
        "--profile", type=int, default=0, help="profile N journeys in-process instead of the load"
    )
    parser.add_argument(
        "--step-cpu", type=int, default=0, help="only each step's CPU, median of N journeys"
    )
    parser.add_argument(
        "--profile-step", default="", choices=("", *STEPS), help="with --profile: this step only"
    )
    parser.add_argument(
        "--cpu-journeys",
        type=int,
        default=20,
        help="single-threaded in-process journeys timing each step's CPU",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="after the load, bench/floor_bench.py's apps on the same database and cache, and "
        "the journey against the floor",
    )
    parser.add_argument("--write", type=Path, default=None, help="e.g. BENCHMARKS.md")
    parser.add_argument(
        "--from-landing",
        action="store_true",
        help="start the login from the landing page's button, without the form page before it",
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="instead of the speed run: each web worker's RSS after 1,000 and 10,000 logins",
    )
    parser.add_argument(
        "--memory-logins",
        type=int,
        nargs=2,
        default=(1000, 10000),
        metavar=("FIRST", "SECOND"),
        help="with --memory: the two points measured",
    )
    args = parser.parse_args()
    global FROM_LANDING
    FROM_LANDING = args.from_landing

    # Kept when the run fails, for its process log; removed when it succeeds.
    tmp = Path(tempfile.mkdtemp(prefix="login-bench-"))
    database_url = os.environ.get("DATABASE_URL", "") or f"sqlite:///{tmp}/bench.sqlite3"
    database = "PostgreSQL" if is_postgres(database_url) else "SQLite"
    with throwaway_database(database_url) as database_url:
        return bench(args, tmp=tmp, database=database, database_url=database_url)


def bench(args, *, tmp, database: str, database_url: str) -> int:
    cache_url = bench_cache_url()
    port, idp_port = free_port(), free_port()
    base, idp_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{idp_port}"
    env = production_env(
        database_url=database_url,
        cache_url=cache_url,
        settings_module="bench.login_settings",
        PUBLIC_BASE_URL=base,
        PORT=str(port),
        **NO_RATE_LIMITS,
    )
    if args.workers:
        env["WEB_CONCURRENCY"] = str(args.workers)
    if args.threads:
        env["GUNICORN_THREADS"] = str(args.threads)
    child_env = {**os.environ, **env}

    print(f"login bench: {database}, cache {cache_url.split(':')[0]}, app {base}, idp {idp_base}")
    release(child_env)
    django_setup(env)
    from django.core.cache import cache

    cache.clear()  # the bench's own cache (Redis DB 9): no rate-limit counts or JWKS left over
    seed(idp_base=idp_base)

    log = open(tmp / "processes.log", "w")  # noqa: SIM115
    idp = idp_stub(
        idp_port,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=f"{base}/oauth/callback/{CALLBACK_KEY}",
        log=log,
    )
    web = Gunicorn(child_env, log=log)
    try:
        wait_for(f"{idp_base}/jwks")
        web.wait_ready()
        if args.memory:
            return memory(args, web=web, idp_base=idp_base, tmp=tmp, database=database)
        if args.step_cpu:
            step_cpu_print(idp_base, args.step_cpu)
            shutil.rmtree(tmp, ignore_errors=True)
            return 0
        if args.profile:
            profile_journeys(idp_base, args.profile, args.profile_step)
            shutil.rmtree(tmp, ignore_errors=True)
            return 0
        # The first journey loads the campaign into the app's cache (campaigns/lookup.py); the
        # figures are the steady state that follows, with the cold one reported beside them.
        cold_queries = queries_per_step(idp_base, "query-count-cold", capture=True)
        queries = queries_per_step(idp_base, capture=True)
        step_cpu: dict[str, list[float]] = {}
        for number in range(args.cpu_journeys):
            queries_per_step(idp_base, f"cpu-{number}", cpu=step_cpu)

        warm = Results()
        run_load(
            base,
            idp_base,
            concurrency=args.concurrency,
            duration=args.warmup,
            results=warm,
            record=False,
        )
        results = Results(submitted=warm.submitted, errors=warm.errors)
        app_before = cpu_seconds(web.pid, with_children=True)
        idp_before = cpu_seconds(idp.pid, with_children=False)
        client_before = time.process_time()
        started = time.monotonic()
        run_load(
            base,
            idp_base,
            concurrency=args.concurrency,
            duration=args.duration,
            results=results,
            record=True,
        )
        elapsed = time.monotonic() - started
        app_cpu = cpu_seconds(web.pid, with_children=True) - app_before
        idp_cpu = cpu_seconds(idp.pid, with_children=False) - idp_before
        client_cpu = time.process_time() - client_before
    finally:
        web.stop(timeout=30)
        stop(idp, timeout=10)
        log.close()

    db_problems = check_database(results, in_process=2 + args.cpu_journeys)
    logins = max(results.completed, 1)
    floor = None
    if args.floor and not results.errors:
        # The same gunicorn configuration, database and cache, right after the load.
        print("the floor (bench/floor_bench.py), the same concurrency:")
        rows = floor_bench.measure_all(
            floor_bench.JOURNEY_APPS,
            env={**child_env, "DJANGO_SETTINGS_MODULE": "bench.floor_settings"},
            concurrency=args.concurrency,
            duration=floor_bench.DURATION,
            warmup=floor_bench.WARMUP,
        )
        floor = (*floor_bench.journey_floor(rows), sum(row["errors"] for row in rows.values()))
    text = report(
        results=results,
        database=database,
        cache="Redis" if cache_url.startswith("redis") else "local memory",
        concurrency=args.concurrency,
        duration=args.duration,
        elapsed=elapsed,
        machine=machine(),
        workers=args.workers or "cores (at least 2)",
        threads=args.threads or 8,
        app_cpu_ms=app_cpu * 1000 / logins,
        idp_cpu_ms=idp_cpu * 1000 / logins,
        client_cpu_ms=client_cpu * 1000 / logins,
        queries=queries,
        cold_queries=cold_queries,
        step_cpu=step_cpu,
        db_problems="; ".join(db_problems[:5]),
        floor=floor,
    )
    print(text)
    if results.errors:
        print("errors (first 10):", *results.errors[:10], sep="\n  ")
        print(f"process log: {tmp / 'processes.log'}")
    if args.write:
        write_section(args.write, database + (" from landing" if FROM_LANDING else ""), text)
        print(f"written to {args.write}")
    failed = bool(results.errors or db_problems or results.completed == 0 or (floor and floor[2]))
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


# ---------------------------------------------------------------------------- memory
MEMORY_BOUND = 0.05  # a worker may grow 5 % from the first point to the second


def memory(args, *, web: Gunicorn, idp_base: str, tmp: Path, database: str) -> int:
    """Each web worker's RSS after the first and the second number of logins (the same
    journeys as the speed run, with the load stopped while it is read), and the growth."""
    first, second = args.memory_logins
    workers = web.workers()
    results = Results()
    started = time.monotonic()
    done = threading.Event()

    def progress() -> None:
        while not done.wait(15):
            print(
                f"  {results.completed} logins, {len(results.errors)} errors, "
                f"{time.monotonic() - started:.0f} s",
                flush=True,
            )

    threading.Thread(target=progress, daemon=True).start()
    points: list[tuple[int, dict[int, int]]] = []
    try:
        for target in (first, second):
            run_load(
                web.base,
                idp_base,
                concurrency=args.concurrency,
                duration=24 * 3600,
                results=results,
                record=True,
                stop_at=target,
            )
            time.sleep(1)  # the last answers written, the threads idle
            points.append((results.completed, {pid: rss_kib(pid) for pid in workers}))
            print(f"  after {results.completed} logins: RSS {points[-1][1]} KiB", flush=True)
    finally:
        done.set()
    elapsed = time.monotonic() - started
    now = web.workers()
    master_rss = rss_kib(web.pid)
    (n1, rss1), (n2, rss2) = points
    growth = {pid: (rss2[pid] - rss1[pid]) / rss1[pid] for pid in workers}
    worst = max(growth.values())
    facts = machine()
    lines = [
        f"### Web workers' memory — {database}, {args.concurrency} participants, "
        f"{n2} logins in {elapsed:.0f} s",
        "",
        f"Machine: {facts['cpus']} CPUs ({facts['cpu']}), Python {facts['python']}, Django "
        f"{facts['django']}, {database}; `config/gunicorn.conf.py` ({len(workers)} workers × "
        f"{args.threads or 8} threads) with GUNICORN_MAX_REQUESTS=0 (production recycles a worker "
        f"every 50,000 requests or so, which would hide a leak); load average before the run "
        f"{facts['load']}.",
        "",
        f"| worker (pid) | RSS after {n1} logins (MiB) | after {n2} (MiB) | growth |",
        "|---|---:|---:|---:|",
    ]
    for pid in workers:
        lines.append(
            f"| {pid} | {rss1[pid] / 1024:.1f} | {rss2[pid] / 1024:.1f} | "
            f"{growth[pid] * 100:+.1f} % |"
        )
    verdict = "ok" if worst <= MEMORY_BOUND else "FAILED"
    same = "the same workers throughout" if now == workers else f"workers now {now} (restarted!)"
    lines += [
        "",
        f"Master: {master_rss / 1024:.1f} MiB; {same}; errors: {len(results.errors)}; "
        f"{n2 / elapsed:.1f} logins/s.",
        "",
        f"Verdict: **{verdict}** — the largest growth is {worst * 100:+.1f} % "
        f"(bound {MEMORY_BOUND * 100:.0f} %).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    db_problems = check_database(results, in_process=0)
    if results.errors:
        print("errors (first 10):", *results.errors[:10], sep="\n  ")
    if db_problems:
        print("database:", *db_problems[:10], sep="\n  ")
    if args.write:
        write_section(args.write, f"memory {database}", text)
        print(f"written to {args.write}")
    failed = bool(results.errors or db_problems or worst > MEMORY_BOUND or now != workers)
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"process log: {tmp / 'processes.log'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
