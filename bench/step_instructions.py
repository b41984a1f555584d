"""Instructions of one step of a participant's login, or of one function, counted by callgrind.

    python bench/step_instructions.py start              # the login start
    python bench/step_instructions.py form -n 20         # the prefilled form page
    python bench/step_instructions.py peer               # start, callback, form: the peer
                                                         # bench's login
    python bench/step_instructions.py journey            # landing to thank-you
    python bench/step_instructions.py peer --function integrations.oauth.answer:id_token_validate
    python bench/step_instructions.py peer --function requests.models:Request.prepare
    python bench/step_instructions.py journey --only submit  # one request of the journey
    python bench/step_instructions.py floor              # bench/floor_bench.py's apps, and
                                                         # the journey's floor from them
    python bench/step_instructions.py webhook -n 200     # one worker's drain, per delivery
    python bench/step_instructions.py webhook --function integrations.egress.transport:send

Runs `bench/login_bench.py`'s setup (the IdP stub, the seeded campaign; SQLite, Redis when it
runs) and, in this process through Django's test client, a few warm-up logins, then N
repetitions of the step. Only they are counted: the process runs under valgrind's callgrind with
collection off except inside one call of `operator.call` (`--toggle-collect=_operator_call`),
which wraps either the repetitions, or with `--function module:attr` (or `module:Class.attr`)
that function, patched in for the run, or with `--only NAME` one of the journey's requests
(`JOURNEY_REQUESTS`, bench/login_bench.py's names). Prints instructions per repetition.
`webhook` counts one task's drain of N deliveries (bench/webhook_bench.py's backlog, receiver in
a process of its own, production settings on SQLite, the drain's time limits lifted so that
callgrind's slowness does not cut its batches short): a repetition is one delivery. Two
runs of the same 20 login starts agreed to 0.08 %, where the machine's CPU times move by several
per cent (BENCHMARKS.md, "Against the peers → Ninth round"). User-space instructions only; the
test client's own cost is in the steps' and requests' counts, not in a function's.
"""

import argparse
import functools
import importlib
import operator
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("start", "startcb", "peer", "form", "journey")
# bench/login_bench.py's names for the journey's requests (queries_per_step), for `--only`.
JOURNEY_REQUESTS = (
    "landing",
    "campaign_form",
    "login_start",
    "callback",
    "form",
    "submit",
    "thanks",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "step",
        choices=(*STEPS, "floor", "webhook"),
        help="startcb: the start and the callback; floor: bench/floor_bench.py's apps; "
        "webhook: a worker's drain, per delivery",
    )
    parser.add_argument("-n", type=int, default=10, help="repetitions counted (default 10)")
    parser.add_argument("--function", default="", help="module:attr, counted inside the step")
    parser.add_argument(
        "--only", default="", choices=("", *JOURNEY_REQUESTS), help="journey: this request only"
    )
    parser.add_argument("--app", default="", help=argparse.SUPPRESS)  # floor, inside callgrind
    args = parser.parse_args()
    if args.only and (args.step != "journey" or args.function):
        parser.error("--only counts one request of the journey, without --function")
    inside = os.environ.get("STEP_INSTRUCTIONS_INSIDE") == "1"
    if args.step == "floor":
        if inside:
            _floor_app(args)
            return 0
        return _floor(args)
    if args.step == "webhook":
        if inside:
            _webhook_drain(args)
            return 0
        return _webhook(args)
    if not inside:
        return _under_callgrind(args)
    _run(args)
    return 0


def _under_callgrind(args, env: dict | None = None) -> int:
    total = _callgrind_total(sys.argv, env or {})
    if total is None:
        return 1
    inside = args.function or (args.only and f"the {args.only} request")
    what = f"{inside} in {args.step}" if inside else args.step
    print(f"{what}: {total / args.n:,.0f} instructions per repetition ({args.n} counted)")
    return 0


def _callgrind_total(argv: list[str], env: dict) -> int | None:
    """Instructions counted inside operator.call by this script run with `argv` under callgrind
    (None, with its log's end printed, when it failed)."""
    with tempfile.TemporaryDirectory() as tmp:
        out, log = Path(tmp) / "callgrind.out", Path(tmp) / "run.log"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=_operator_call",
            f"--callgrind-out-file={out}",
            sys.executable,
            *argv,
        ]
        env = {**os.environ, **env, "STEP_INSTRUCTIONS_INSIDE": "1"}
        with log.open("w") as stream:
            done = subprocess.run(command, cwd=ROOT, env=env, stdout=stream, stderr=stream)
        if done.returncode != 0:
            print(log.read_text()[-3000:], file=sys.stderr)
            return None
        return sum(
            int(line.split()[1])
            for line in out.read_text().splitlines()
            if line.startswith("totals:")
        )


def _floor(args) -> int:
    """Each of bench/floor_bench.py's apps (the same settings and middleware, nothing of the
    product) counted per request through the test client, and the journey's floor from them as
    floor_bench.py adds it up: the instructions beside `journey`'s."""
    sys.path.insert(0, str(ROOT / "bench"))
    import floor_bench
    from stack import bench_cache_url, production_env, release

    with tempfile.TemporaryDirectory() as tmp:
        env = production_env(
            database_url=f"sqlite:///{tmp}/floor.sqlite3",
            cache_url=bench_cache_url(),
            settings_module="bench.floor_settings",
            LOG_LEVEL="WARNING",
        )
        release(env)
        counts = {}
        with floor_bench.egress_target(env) as egress_url:
            for app in floor_bench.JOURNEY_APPS:
                argv = [sys.argv[0], "floor", "-n", str(args.n), "--app", app]
                total = _callgrind_total(argv, {**env, "FLOOR_EGRESS_URL": egress_url})
                if total is None:
                    return 1
                counts[app] = total / args.n
                print(f"floor {app}: {counts[app]:,.0f} instructions per request")
    journey = floor_bench.journey_total(counts)
    print(f"floor journey: {journey:,.0f} instructions ({args.n} requests counted per app)")
    return 0


def _floor_app(args) -> None:
    """Inside callgrind: `args.app` of bench/floor_urls.py, N requests counted."""
    sys.path.insert(0, str(ROOT))  # bench.floor_settings
    import django
    from django.test import Client

    django.setup()
    client = Client()
    for _ in range(5):  # the middleware, the template, the connections
        assert client.get(f"/{args.app}/").status_code == 200

    def repetitions() -> None:
        for _ in range(args.n):
            client.get(f"/{args.app}/")

    operator.call(repetitions)


def _webhook(args) -> int:
    """A worker's drain of N deliveries to bench/webhook_bench.py's receiver, per delivery."""
    sys.path.insert(0, str(ROOT / "bench"))
    import webhook_bench

    with tempfile.TemporaryDirectory() as tmp:
        env = webhook_bench._environment(
            "database", database_url=f"sqlite:///{tmp}/webhook.sqlite3", redis_url=""
        )
        # Outside callgrind, where it takes seconds, not minutes.
        manage = [sys.executable, "manage.py", "migrate", "--noinput", "-v0"]
        subprocess.run(manage, cwd=ROOT, env=env, check=True)  # noqa: S603 (this interpreter)
        return _under_callgrind(args, env)


def _webhook_drain(args) -> None:
    """Inside callgrind: a warm-up drain, then one task draining N deliveries, counted (the
    receiver is another process: not counted)."""
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    import django

    django.setup()
    import webhook_bench
    from django.db import transaction

    from accounts.models import Account
    from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
    from integrations.webhooks import tasks
    from integrations.webhooks.outbox import webhook_events_record
    from integrations.webhooks.signing import secret_generate

    secret = secret_generate()
    receiver = webhook_bench.ReceiverProcess(secret, dict(os.environ))
    try:
        account = Account.objects.create(slug="bench", name="Bench")
        WebhookEndpoint.objects.create(
            account=account, url=receiver.url, events=["participation.created"], secret=secret
        )
        warm = 30
        with transaction.atomic():
            for i in range(warm + args.n):
                webhook_events_record(
                    account=account, participation=webhook_bench._participation(i)
                )
        ids = list(WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True))
        # Callgrind runs the worker about fifty times slower: a batch must not be cut by time.
        tasks.DRAIN_SECONDS = tasks.BATCH_SECONDS = 1e9
        tasks.DRAIN_LIMIT = warm
        tasks.deliver_webhook.call(ids[0])
        tasks.DRAIN_LIMIT = args.n
        if args.function:
            _count_inside(args.function)
            tasks.deliver_webhook.call(ids[warm])
        else:
            operator.call(tasks.deliver_webhook.call, ids[warm])
        delivered = WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count()
        stats = receiver.get("/stats")
        if delivered != warm + args.n or stats["bad_signatures"] or stats["twice"]:
            raise SystemExit(f"the drain delivered {delivered} of {warm + args.n}: {stats}")
    finally:
        receiver.stop()


def _run(args) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    import login_bench

    def counted(idp_base: str, _count: int) -> None:
        _steps(login_bench, idp_base, args)

    # login_bench's setup, then our steps instead of its CPU figures.
    login_bench.step_cpu_print = counted
    sys.argv = ["login_bench.py", "--step-cpu", "1"]
    login_bench.main()


def _steps(login_bench, idp_base: str, args) -> None:
    import requests
    from django.test import Client

    client = Client()
    slug = login_bench.SLUG

    def login(number: int, step: str) -> None:
        client.cookies.clear()
        start = client.get(f"/c/{slug}/login/")
        assert start.status_code == 302, start.status_code
        if step == "start":
            return
        authorized = requests.get(
            start["Location"] + f"&login_hint=steps-{number}", allow_redirects=False, timeout=10
        )
        query = parse_qs(urlsplit(authorized.headers["Location"]).query)
        back = {name: values[0] for name, values in query.items()}
        callback = client.get(f"/oauth/callback/{login_bench.CALLBACK_KEY}", data=back)
        assert callback.status_code == 303, callback.status_code
        if step == "startcb":
            return
        form = client.get(f"/c/{slug}/form/")
        assert form.status_code == 200 and b'value="' in form.content

    def repetitions() -> None:
        for number in range(args.n):
            if args.step == "form":
                assert client.get(f"/c/{slug}/form/").status_code == 200
            elif args.step == "journey":
                login_bench.queries_per_step(idp_base, f"steps-journey-{number}")
            else:
                login(number, args.step)

    # Imports, first renders, the JWKS and the campaign's cache fall out of the count.
    login_bench.queries_per_step(idp_base, "steps-warm")
    login(-2, "peer")
    login(-1, "peer")
    if args.function:
        _count_inside(args.function)
        repetitions()
    elif args.only:
        _count_request(login_bench, idp_base, args.only)
        repetitions()
    else:
        operator.call(repetitions)


def _count_request(login_bench, idp_base: str, name: str) -> None:
    """Count the journey's request `name` only: login_bench's per-step hook (its profiler's
    switch) marks it, and its test client's request goes through operator.call."""
    from django.test import Client

    marked = {"armed": False, "now": False}

    class Switch:
        def enable(self) -> None:
            marked["now"] = marked["armed"]

        def disable(self) -> None:
            marked["now"] = False

    class CountedClient(Client):
        def generic(self, *args, **kwargs):
            if marked["now"]:
                return operator.call(functools.partial(super().generic, *args, **kwargs))
            return super().generic(*args, **kwargs)

    login_bench._CLIENT = CountedClient()
    login_bench._STEP_PROFILER = (name, Switch())
    # A new client loads the middleware on its first request: not counted.
    login_bench.queries_per_step(idp_base, "steps-warm-client")
    marked["armed"] = True


def _count_inside(target: str) -> None:
    """Wrap `module:attr` (or `module:Class.attr`) in operator.call, where callgrind counts;
    a call inside another is counted once, in the outer one."""
    module_name, attr = target.split(":")
    owner = importlib.import_module(module_name)
    if "." in attr:
        class_name, attr = attr.split(".")
        owner = getattr(owner, class_name)
    original = getattr(owner, attr)
    # callgrind toggles collection at every entry and exit of operator.call: a call of the
    # function inside itself (an include inside an include) would switch it off. Only the
    # outermost call goes through operator.call.
    inside = False

    @functools.wraps(original)
    def counted(*args, **kwargs):
        nonlocal inside
        if inside:
            return original(*args, **kwargs)
        inside = True
        try:
            return operator.call(functools.partial(original, *args, **kwargs))
        finally:
            inside = False

    setattr(owner, attr, counted)


if __name__ == "__main__":
    sys.exit(main())
