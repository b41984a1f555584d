"""HH-01: `manage.py check --deploy` passes with the production environment, as CI should run it."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVELOPMENT_FLAGS = ("ALLOW_HTTP_LOOPBACK_ENDPOINTS", "ALLOW_PRIVATE_WEBHOOK_ADDRESSES")


def check_deploy(**environment: str) -> subprocess.CompletedProcess:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "sso.example.com",
        # The `.env` that `make run` writes turns both on; the real environment wins over it.
        **dict.fromkeys(DEVELOPMENT_FLAGS, "0"),
        **environment,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_at_warning_level_with_production_settings():
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("flag", DEVELOPMENT_FLAGS)
def test_check_deploy_fails_on_a_development_flag_and_says_to_remove_it(flag):
    result = check_deploy(**{flag: "1"})
    assert result.returncode != 0
    [other] = set(DEVELOPMENT_FLAGS) - {flag}
    assert f"{flag} is set, but it is for development only" in result.stderr
    assert f"Remove {flag} from the environment" in result.stderr
    assert other not in result.stderr
