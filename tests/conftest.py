import ipaddress
import os
import re
import socket
from urllib.parse import urlsplit

import pytest
import redis
from django.core.cache import cache

from accounts.models import Role
from integrations.oauth.tokens import parsed_keys, process_jwks
from tests.factories import PASSWORD, AccountFactory, make_member, make_staff


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PUBLIC_BASE_URL = "https://sso.example.test"
    settings.WHITENOISE_AUTOREFRESH = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tasks run in-process at enqueue time, on the same queues as in production.
    settings.TASKS = {
        "default": {
            "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
            "QUEUES": ["default", "webhooks"],
        }
    }


@pytest.fixture(autouse=True)
def _empty_cache():
    # Each test starts with an empty cache: rate-limit counters and cached JWKS of one test must
    # not leak into the next (the local-memory cache lives as long as the test process), nor
    # the keys each process keeps for when the cache is down.
    cache.clear()
    process_jwks.clear()
    parsed_keys.clear()


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def account(db):
    return AccountFactory(name="Account A", slug="account-a")


@pytest.fixture
def other_account(db):
    return AccountFactory(name="Account B", slug="account-b")


@pytest.fixture
def staff_user(db):
    return make_staff(username="staff")


@pytest.fixture
def admin_user_a(account):
    return make_member(account, Role.ADMINISTRATOR, username="admin-a")


@pytest.fixture
def editor_a(account):
    return make_member(account, Role.EDITOR, username="editor-a")


@pytest.fixture
def admin_user_b(other_account):
    return make_member(other_account, Role.ADMINISTRATOR, username="admin-b")


# ---------------------------------------------------------------------------- network boundary
# Tests only ever reach 127.0.0.1. Host names under example.com/.org/.net and example.test resolve
# (here, without any DNS query) to a public documentation address so that save-time URL checks
# pass; HTTP to them is answered by `responses`. Every other name fails to resolve, and a socket
# connection to anything but loopback is refused before it leaves the machine.
PUBLIC_TEST_ADDRESS = "93.184.216.34"
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect


def _fake_getaddrinfo(host, port, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else (host or "")
    name = name.lower().rstrip(".")
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
        return _real_getaddrinfo(host, port, *args, **kwargs)
    except ValueError:
        pass
    if name == "localhost" or name.endswith(".localhost"):
        return _real_getaddrinfo("127.0.0.1", port, *args, **kwargs)
    if re.search(r"(^|\.)example\.(com|org|net|test)$", name):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_TEST_ADDRESS, port or 0))]
    raise socket.gaierror(socket.EAI_NONAME, f"{name} is not resolvable in tests")


def _guarded_connect(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not (
        ipaddress.ip_address(address[0].split("%", 1)[0]).is_loopback
    ):
        raise ConnectionRefusedError(f"tests may not connect to {address[0]}")
    return _real_connect(sock, address)


@pytest.fixture(autouse=True)
def _loopback_only_network(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _fake_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


# A Redis database of its own, so these tests never touch data of a running instance.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


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


class RoundTripCountingConnection(redis.connection.Connection):
    """redis-py's connection, counting what it sends: one packed send per round trip (a
    pipeline sends all its commands at once)."""

    round_trips = 0

    def send_packed_command(self, command, check_health=True):
        type(self).round_trips += 1
        return super().send_packed_command(command, check_health)


@pytest.fixture
def redis_round_trips(settings, redis_cache):
    """The default cache on the tests' Redis, counting its round trips: call the fixture's value
    for the number so far."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": TEST_REDIS_URL,
            "OPTIONS": {"connection_class": RoundTripCountingConnection},
        }
    }
    start = RoundTripCountingConnection.round_trips
    return lambda: RoundTripCountingConnection.round_trips - start
