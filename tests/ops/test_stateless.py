"""Two real gunicorn instances on the test run's database and Redis: a login started on one is
finished on the other (CI's production-like pass: DATABASE_URL=postgres://…, CACHE_URL=redis://…).

Each instance is its own gunicorn master with production settings (`config/gunicorn.conf.py`,
DJANGO_DEBUG=0) and shares with the other only what a deploy shares: the database, the cache,
the keys and PUBLIC_BASE_URL. The participant's journey is the login benchmark's
(`bench/login_bench.py`): landing page, form page and login start on one instance, the IdP stub
(`bench/idp_server.py`) on 127.0.0.1, then the callback, the prefilled form, the submit and the
thank-you page on the other. The long version under load, with webhooks delivered by both
instances' workers, is `bench/stateless_bench.py`.
"""

import os
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from bench import login_bench
from bench.idp_server import profile_of
from bench.stack import NO_RATE_LIMITS, Gunicorn, free_port, idp_stub, production_env, stop
from bench.stack import wait_for as wait_for_url
from participants.models import Participation

LOGINS = 10


def _database_url() -> str:
    """The test run's database (pytest-django's test_<name>), as a DATABASE_URL."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return (
        f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{quote(db['NAME'], safe='')}"
    )


@pytest.fixture
def two_instances(transactional_db, tmp_path):
    """Instances A and B (gunicorn, production settings) and the IdP stub; the bench campaign
    seeded (committed, so that both servers see it)."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs the test database on PostgreSQL (DATABASE_URL=postgres://…): two servers "
            "sharing one database only means something on a database server"
        )
    cache_url = os.environ.get("CACHE_URL", "")
    if not cache_url.startswith(("redis://", "rediss://")):
        pytest.skip("needs the cache on Redis (CACHE_URL=redis://…): what the instances share")

    ports = {"A": free_port(), "B": free_port()}
    idp_port = free_port()
    public_base = f"http://127.0.0.1:{ports['A']}"
    idp_base = f"http://127.0.0.1:{idp_port}"
    login_bench.seed(idp_base=idp_base)
    env = {
        **os.environ,
        **production_env(
            database_url=_database_url(),
            cache_url=cache_url,
            settings_module="tests.ops.stateless_settings",
            # What the test process encrypted the client secret with, and signs nothing with.
            DJANGO_SECRET_KEY=settings.SECRET_KEY,
            FIELD_ENCRYPTION_KEY=",".join(settings.FIELD_ENCRYPTION_KEY),
            PUBLIC_BASE_URL=public_base,
            WEB_CONCURRENCY="1",
            GUNICORN_THREADS="4",
            LOG_LEVEL="WARNING",
            **NO_RATE_LIMITS,
        ),
    }
    log = (tmp_path / "servers.log").open("w")
    idp = idp_stub(
        idp_port,
        client_id=login_bench.CLIENT_ID,
        client_secret=login_bench.CLIENT_SECRET,
        redirect_uri=f"{public_base}/oauth/callback/{login_bench.CALLBACK_KEY}",
        log=log,
    )
    servers = [Gunicorn({**env, "PORT": str(port)}, log=log) for port in ports.values()]
    try:
        wait_for_url(f"{idp_base}/jwks", timeout=30)
        for server in servers:
            server.wait_ready(timeout=60)
        yield public_base, idp_base, servers
    finally:
        for server in servers:
            server.stop(timeout=30)
        stop(idp, timeout=10)
        log.close()


def test_logins_started_on_one_instance_finish_on_the_other(two_instances, tmp_path):
    public_base, idp_base, (a, b) = two_instances
    errors, sent = [], {}
    for number in range(LOGINS):
        start, finish = (a, b) if number % 2 == 0 else (b, a)
        subject = f"stateless-{number}"
        try:
            sent[subject] = login_bench.journey(
                start.base,
                idp_base,
                subject,
                {},
                finish_base=finish.base,
                public_base=public_base,
            )
        except (login_bench.JourneyError, OSError) as exc:
            errors.append(f"{start.base} → {finish.base}: {exc}")
    assert errors == [], "\n".join(errors) + "\n" + (tmp_path / "servers.log").read_text()[-3000:]

    # The form each participant found on the other instance was prefilled from their IdP profile
    # (the journey checks the page); what they submitted there is stored.
    stored = {
        p.participant.subject: p
        for p in Participation.objects.filter(campaign__slug=login_bench.SLUG).select_related(
            "participant"
        )
    }
    assert sorted(stored) == sorted(sent)
    for subject, participation in stored.items():
        profile = profile_of(subject)
        assert participation.prefilled["firstname"] == profile["given_name"]
        assert participation.prefilled["email"] == profile["email"]
        assert participation.values["lastname"] == profile["family_name"] + "-B"
