"""Sessions are cached only in a cache that every web process shares."""

import subprocess
import sys

from django.conf import settings


def _session_engine(cache_url: str | None) -> str:
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "1", "PATH": "/usr/bin"}
    if cache_url:
        env["CACHE_URL"] = cache_url
    code = "from django.conf import settings; print(settings.SESSION_ENGINE)"
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.strip()


def test_a_per_process_cache_keeps_sessions_in_the_database_only():
    assert _session_engine("locmemcache://x") == "django.contrib.sessions.backends.db"


def test_a_shared_redis_cache_fronts_the_database_sessions():
    # Settings only: nothing connects to Redis here.
    assert _session_engine("redis://127.0.0.1:6379/1") == (
        "django.contrib.sessions.backends.cached_db"
    )
