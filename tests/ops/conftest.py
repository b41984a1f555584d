import os
import socket
from urllib.parse import urlsplit

import pytest

# A Redis database of its own, so these tests never touch data of a running instance.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
# Nothing listens on port 1: a cache there fails at once with "connection refused".
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"


def _redis_reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def redis_cache(settings):
    """The default cache on a real Redis, as in production (CACHE_URL=redis://…)."""
    if not _redis_reachable(TEST_REDIS_URL):
        pytest.skip(f"Redis is not running at {TEST_REDIS_URL}")
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": TEST_REDIS_URL,
        }
    }
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture
def broken_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": CLOSED_REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
