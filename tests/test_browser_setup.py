"""The browser tests' setup itself: without Chromium they skip locally but fail in CI."""

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _run_browser_test_without_chromium(tmp_path, *, ci: str | None) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CI", "DATABASE_URL", "PYTEST_ADDOPTS")
    }
    # No chromium on this PATH; a private SQLite database so that the inner session never
    # touches the outer one's test database (on PostgreSQL both would be "test_…").
    env.update({"PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "--nomigrations",
            "tests/browser/test_admin_in_browser.py::"
            "test_unknown_campaign_shows_the_public_not_found_page",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_chromium_browser_tests_skip_outside_ci(tmp_path):
    result = _run_browser_test_without_chromium(tmp_path, ci=None)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout


def test_without_chromium_browser_tests_fail_in_ci(tmp_path):
    result = _run_browser_test_without_chromium(tmp_path, ci="true")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Chromium is not installed" in result.stdout
