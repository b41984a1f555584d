import pytest

from tests.conftest import TEST_REDIS_URL  # noqa: F401  (imported from here by the ops tests)

# Nothing listens on port 1: a cache there fails at once with "connection refused".
CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def broken_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": CLOSED_REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
