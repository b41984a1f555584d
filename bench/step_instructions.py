"""Instructions of one step of a participant's login, or of one function, counted by callgrind.

    python bench/step_instructions.py start              # the login start
    python bench/step_instructions.py form -n 20         # the prefilled form page
    python bench/step_instructions.py peer               # start, callback, form: the peer
                                                         # bench's login
    python bench/step_instructions.py journey            # landing to thank-you
    python bench/step_instructions.py peer --function integrations.oauth.answer:id_token_validate
    python bench/step_instructions.py peer --function requests.models:Request.prepare

Runs `bench/login_bench.py`'s setup (the IdP stub, the seeded campaign; SQLite, Redis when it
runs) and, in this process through Django's test client, a few warm-up logins, then N
repetitions of the step. Only they are counted: the process runs under valgrind's callgrind with
collection off except inside one call of `operator.call` (`--toggle-collect=_operator_call`),
which wraps either the repetitions or, with `--function module:attr` (or `module:Class.attr`),
that function, patched in for the run. Prints instructions per repetition. Two runs of the
same 20 login starts agreed to 0.08 %, where the machine's CPU times move by several per cent
(BENCHMARKS.md, "Against the peers → Ninth round"). User-space instructions only; the test
client's own cost is in the steps' counts, not in a function's.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=STEPS, help="startcb: the start and the callback")
    parser.add_argument("-n", type=int, default=10, help="repetitions counted (default 10)")
    parser.add_argument("--function", default="", help="module:attr, counted inside the step")
    args = parser.parse_args()
    if os.environ.get("STEP_INSTRUCTIONS_INSIDE") != "1":
        return _under_callgrind(args)
    _run(args)
    return 0


def _under_callgrind(args) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out, log = Path(tmp) / "callgrind.out", Path(tmp) / "run.log"
        command = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=_operator_call",
            f"--callgrind-out-file={out}",
            sys.executable,
            *sys.argv,
        ]
        env = {**os.environ, "STEP_INSTRUCTIONS_INSIDE": "1"}
        with log.open("w") as stream:
            done = subprocess.run(command, cwd=ROOT, env=env, stdout=stream, stderr=stream)
        if done.returncode != 0:
            print(log.read_text()[-3000:], file=sys.stderr)
            return done.returncode
        total = sum(
            int(line.split()[1])
            for line in out.read_text().splitlines()
            if line.startswith("totals:")
        )
    what = f"{args.function} in {args.step}" if args.function else args.step
    print(f"{what}: {total / args.n:,.0f} instructions per repetition ({args.n} counted)")
    return 0


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
    else:
        operator.call(repetitions)


def _count_inside(target: str) -> None:
    """Wrap `module:attr` (or `module:Class.attr`) in operator.call, where callgrind counts."""
    module_name, attr = target.split(":")
    owner = importlib.import_module(module_name)
    if "." in attr:
        class_name, attr = attr.split(".")
        owner = getattr(owner, class_name)
    original = getattr(owner, attr)

    @functools.wraps(original)
    def counted(*args, **kwargs):
        return operator.call(functools.partial(original, *args, **kwargs))

    setattr(owner, attr, counted)


if __name__ == "__main__":
    sys.exit(main())
