"""Fixtures of the fault tests, meant to be reused by the fault suite:

- `idp`, `sso`, `campaign`, `integration`: a campaign whose SSO goes to a loopback IdP;
- `redis_server` / `redis_cache_server`: a Redis process of the test's own, and the default
  cache (and the sessions) on it as in production;
- `postgres_cluster` (session) / `own_database`: a PostgreSQL cluster of the suite's own, and
  Django's default connection pointed at it for one test (whatever the suite's database is);
  `own_database.stop()` / `.start()` make the database really unreachable and back.
"""

import contextlib

import pytest
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from django.db.utils import load_backend

from tests.faults.servers import LoopbackIdP, PostgresCluster, RedisServer
from tests.participants.login.sso_flow import callback, login_start, make_sso_campaign

# Short enough that a hung IdP costs the suite half a second, long enough for a loaded machine
# to answer a healthy loopback request.
READ_TIMEOUT = 0.5


@pytest.fixture
def idp():
    with LoopbackIdP() as server:
        yield server


@pytest.fixture
def sso(account, idp):
    return make_sso_campaign(
        account,
        issuer=idp.base,
        token_endpoint=f"{idp.base}/token",
        jwks_uri=f"{idp.base}/jwks",
        connect_timeout=READ_TIMEOUT,
        read_timeout=READ_TIMEOUT,
    )


@pytest.fixture
def campaign(sso):
    return sso[0]


@pytest.fixture
def integration(sso):
    return sso[1]


def log_in(client, campaign, idp):
    """Login start, then the callback as the IdP would send the browser back."""
    started = login_start(client, campaign)
    idp.nonce = started.nonce
    return callback(client, started)


# ---------------------------------------------------------------------------- Redis
@pytest.fixture
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_cache_server(settings, redis_server):
    """The default cache on the test's own Redis, with production's session engine."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": redis_server.url,
            # Production has 2 s; refused connections fail at once either way.
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.SESSION_ENGINE = "config.sessions.cached_db"
    return redis_server


# ---------------------------------------------------------------------------- PostgreSQL
OWN_DATABASE = "campaign_sso_faults"


@contextlib.contextmanager
def default_database(settings_dict: dict):
    """Django's default connection (in this thread) on `settings_dict` while the block runs."""
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "default")
    previous = connections["default"]
    connections["default"] = wrapper
    try:
        yield wrapper
    finally:
        with contextlib.suppress(Exception):
            wrapper.close()
        connections["default"] = previous


@pytest.fixture(scope="session")
def postgres_cluster(django_db_blocker):
    """A PostgreSQL cluster of this test session's own, migrated; removed at the end."""
    import psycopg

    cluster = PostgresCluster().init()
    try:
        cluster.start()
        with psycopg.connect(
            host="127.0.0.1", port=cluster.port, user=cluster.user, dbname="postgres"
        ) as admin:
            admin.autocommit = True
            admin.execute(f'CREATE DATABASE "{OWN_DATABASE}"')
        with django_db_blocker.unblock(), default_database(cluster.settings_dict(OWN_DATABASE)):
            call_command("migrate", interactive=False, verbosity=0)
        yield cluster
    finally:
        cluster.remove()


class OwnDatabase:
    """The default connection on the own cluster, for one test: `stop()` makes the database
    unreachable (an immediate shutdown: connections break, new ones are refused), `start()`
    brings it back."""

    def __init__(self, cluster: PostgresCluster) -> None:
        self.cluster = cluster

    def stop(self) -> None:
        self.cluster.stop()

    def start(self) -> None:
        self.cluster.start()

    @contextlib.contextmanager
    def down(self):
        self.stop()
        try:
            yield
        finally:
            self.start()


def _close_old_connections(**kwargs) -> None:
    close_old_connections()


def _forget_kept_rows() -> None:
    from campaigns.lookup import public_campaigns, published_integrations
    from integrations.mapping.store import compiled_rules

    for kept in (public_campaigns, published_integrations, compiled_rules):
        kept.forget()


@pytest.fixture
def own_database(postgres_cluster, django_db_blocker):
    """Django's default connection on the own PostgreSQL cluster for this test (its data is
    flushed afterwards). Do not combine with fixtures that use the suite's database (`db`,
    `account`…): create the test's data inside it."""
    _forget_kept_rows()
    with (
        django_db_blocker.unblock(),
        default_database(postgres_cluster.settings_dict(OWN_DATABASE)),
    ):
        database = OwnDatabase(postgres_cluster)
        # What a real server does around each request, and Django's test client leaves out
        # (its tests run inside a transaction): drop a connection that broke, so that the
        # next request connects again (CONN_HEALTH_CHECKS).
        request_started.connect(_close_old_connections, dispatch_uid="own-database")
        request_finished.connect(_close_old_connections, dispatch_uid="own-database")
        try:
            yield database
        finally:
            request_started.disconnect(dispatch_uid="own-database")
            request_finished.disconnect(dispatch_uid="own-database")
            if not postgres_cluster.running:
                postgres_cluster.start()
            connections["default"].close()
            call_command("flush", interactive=False, verbosity=0)
            _forget_kept_rows()
