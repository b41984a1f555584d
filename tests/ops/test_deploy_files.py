"""The process lists in deploy/ run commands that exist, with options those commands accept.

A renamed management command or option would otherwise only show on the production machine,
as a unit that fails at 03:30. Each line is parsed by the command's own parser, in a process
with the task backend it is meant for (the workers check their backend's name at parse time).
"""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RQ_COMMANDS = {"rqworker", "rqworker_resilient"}

PARSE = """
import json, sys
import django
django.setup()
from django.core.management import get_commands, load_command_class
problems = []
for args in json.loads(sys.argv[1]):
    name, options = args[0], args[1:]
    commands = get_commands()
    if name not in commands:
        problems.append(f"no management command {name!r}")
        continue
    parser = load_command_class(commands[name], name).create_parser("manage.py", name)
    try:
        parser.parse_args(options)
    except BaseException as exc:
        problems.append(f"{' '.join(args)}: {exc}")
print(json.dumps(problems))
"""


def _command_lines() -> list[tuple[str, list[str]]]:
    lines = []
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        for line in unit.read_text().splitlines():
            # `#ExecStart=` lines are documented options: checked as well.
            match = re.match(r"#?ExecStart=\S*python manage\.py (.+)$", line)
            if match:
                lines.append((unit.name, shlex.split(match.group(1))))
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        for part in re.findall(r"python manage\.py ([^&]+)", line):
            lines.append(("Procfile", shlex.split(part)))
    return lines


COMMAND_LINES = _command_lines()


def test_the_purge_runs_daily():
    timer = (DEPLOY / "systemd" / "campaign-sso-purge.timer").read_text()
    assert "OnCalendar=*-*-* 03:30:00" in timer and "Persistent=true" in timer
    purged = [args[0] for unit, args in COMMAND_LINES if unit == "campaign-sso-purge.service"]
    assert {"purge_participations", "purge_login_attempts", "purge_webhook_deliveries"} <= set(
        purged
    )


@pytest.mark.parametrize("backend", ["database", "rq"])
def test_every_command_exists_and_accepts_its_options(backend):
    lines = [args for _unit, args in COMMAND_LINES if (args[0] in RQ_COMMANDS) == (backend == "rq")]
    assert lines
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TASKS_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "1",
        "TASKS_BACKEND": backend,
    }
    result = subprocess.run(
        [sys.executable, "-c", PARSE, json.dumps(lines)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


LONG_RUNNING_UNITS = [
    "campaign-sso-web.service",
    "campaign-sso-relay.service",
    "campaign-sso-worker@.service",
    "campaign-sso-rqworker@.service",
]


def _directives(unit: str) -> dict[str, str]:
    directives = {}
    for line in (DEPLOY / "systemd" / unit).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            directives[key.strip()] = value.strip()
    return directives


@pytest.mark.parametrize("unit", LONG_RUNNING_UNITS)
def test_long_running_units_are_restarted_whenever_they_exit(unit):
    # RQ's worker exits with status 0 when Redis goes away: on-failure would leave it down.
    directives = _directives(unit)
    assert directives["Restart"] == "always"
    assert 1 <= int(directives["RestartSec"]) <= 30
    # systemd stops restarting after 5 starts in 10 s by default: an outage outlasts that.
    assert directives["StartLimitIntervalSec"] == "0"


def test_the_rq_workers_run_the_command_that_outlives_a_redis_outage():
    commands = [args[0] for unit, args in COMMAND_LINES if "rq" in unit or args[0] in RQ_COMMANDS]
    assert commands and set(commands) == {"rqworker_resilient"}


def test_the_package_metadata_builds_without_a_licence_warning():
    # A TOML-table licence made setuptools warn on every `pip install -e .` (twice per run).
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str)  # an SPDX expression
    assert "setuptools>=77" in project["build-system"]["requires"]
