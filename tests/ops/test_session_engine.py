"""Sessions are cached only in a cache that every web process shares; a new one is one insert."""

import subprocess
import sys
from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.sessions.backends import base as session_base
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.models import Session
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.ops.conftest import CLOSED_REDIS_URL


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
    assert _session_engine("locmemcache://x") == "config.sessions.db"


def test_a_shared_redis_cache_fronts_the_database_sessions():
    # Settings only: nothing connects to Redis here.
    assert _session_engine("redis://127.0.0.1:6379/1") == "config.sessions.cached_db"


# ---------------------------------------------------------------------------- the stores
@pytest.fixture(params=["config.sessions.db", "config.sessions.cached_db"])
def store_class(request):
    return import_module(request.param).SessionStore


@pytest.mark.django_db
def test_a_new_session_is_one_insert(store_class, django_assert_max_num_queries):
    session = store_class()
    session["participated:1"] = True
    # The INSERT in its atomic block (SAVEPOINT and RELEASE inside the test's transaction).
    with django_assert_max_num_queries(3) as queries:
        session.save()
    statements = [query["sql"].split()[0] for query in queries.captured_queries]
    assert statements.count("INSERT") == 1 and "SELECT" not in statements
    assert store_class(session.session_key)["participated:1"] is True


# Both ways a session is saved: inside a transaction (Django's save) and outside one, as the
# middleware saves (config/sessions' single statement).
BOTH_WAYS = pytest.mark.parametrize(
    "in_transaction",
    [
        pytest.param(True, marks=pytest.mark.django_db, id="in a transaction"),
        pytest.param(False, marks=pytest.mark.django_db(transaction=True), id="autocommit"),
    ],
)


@BOTH_WAYS
def test_a_taken_key_is_refused_by_the_insert_and_the_other_session_is_kept(
    store_class, in_transaction
):
    assert connection.in_atomic_block is in_transaction
    existing = store_class()
    existing["owner"] = "someone else"
    existing.save()

    intruder = store_class(existing.session_key)
    intruder["owner"] = "me"
    with pytest.raises(CreateError):
        intruder.save(must_create=True)
    assert store_class(existing.session_key)["owner"] == "someone else"


@BOTH_WAYS
def test_a_new_key_that_is_taken_is_drawn_again(store_class, monkeypatch, in_transaction):
    existing = store_class()
    existing["owner"] = "someone else"
    existing.save()
    # Django's key generator (the library's, not ours) draws the taken key first.
    draws = iter([existing.session_key, "k" * 32])
    monkeypatch.setattr(session_base, "get_random_string", lambda *args: next(draws))

    session = store_class()
    session["owner"] = "me"
    session.save()

    assert session.session_key == "k" * 32
    assert store_class(existing.session_key)["owner"] == "someone else"
    assert store_class("k" * 32)["owner"] == "me"


# Outside a transaction, as the session middleware saves after the view: one statement each.
# (SQLite shows Django's BEGIN among the queries; PostgreSQL's is a protocol call, not captured.)
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_save_is_one_statement(store_class):
    session = store_class()
    session["participated:1"] = True
    with CaptureQueriesContext(connection) as created:
        session.save()
    session["participated:2"] = True
    with CaptureQueriesContext(connection) as updated:
        session.save()
    assert [q["sql"].split()[0] for q in created.captured_queries] == ["INSERT"]
    assert [q["sql"].split()[0] for q in updated.captured_queries] == ["UPDATE"]
    reloaded = store_class(session.session_key)
    assert reloaded["participated:1"] is True and reloaded["participated:2"] is True


@pytest.mark.django_db(transaction=True)
def test_a_session_saved_without_being_read_keeps_what_it_holds(store_class):
    session = store_class()
    session["owner"] = "me"
    session.save()
    unread = store_class(session.session_key)
    unread.save()  # e.g. a view that only extends the expiry, never reading the data
    assert store_class(session.session_key)["owner"] == "me"
    empty = store_class()
    empty.save()  # as Django's test client creates one: nothing read, nothing to load
    assert empty.session_key is not None
    assert dict(store_class(empty.session_key).items()) == {}


@pytest.mark.django_db(transaction=True)
def test_a_session_deleted_meanwhile_is_not_written_back(store_class):
    # Logged out (or purged) by another request while this one ran: Django's UpdateError, which
    # the session middleware turns into "the session was deleted before the request completed".
    session = store_class()
    session["owner"] = "me"
    session.save()
    Session.objects.filter(session_key=session.session_key).delete()
    session["owner"] = "still me"
    with pytest.raises(UpdateError):
        session.save()
    assert not Session.objects.filter(session_key=session.session_key).exists()


class CountingCache(LocMemCache):
    """The local-memory cache, counting its writes (the test's own backend)."""

    writes: list[str] = []

    def set(self, key, *args, **kwargs):
        self.writes.append(key)
        return super().set(key, *args, **kwargs)


@pytest.mark.django_db
def test_a_new_session_is_written_to_the_cache_once(settings):
    settings.CACHES = {"default": {"BACKEND": f"{__name__}.CountingCache", "LOCATION": "count"}}
    from config.sessions.cached_db import SessionStore

    CountingCache.writes.clear()
    session = SessionStore()
    session["participated:1"] = True
    session.save()
    assert CountingCache.writes == [session.cache_key]
    # Read back from the cache's copy, without the database.
    with CaptureQueriesContext(connection) as queries:
        assert SessionStore(session.session_key)["participated:1"] is True
    assert not queries.captured_queries

    session["participated:2"] = True
    session.save()  # an existing session: its row, then the cache's copy, as Django does
    assert CountingCache.writes == [session.cache_key] * 2
    assert SessionStore(session.session_key)["participated:2"] is True


# ---------------------------------------------------------------------------- Redis down
@pytest.fixture
def cached_db_sessions_with_the_cache_down(settings):
    settings.SESSION_ENGINE = "config.sessions.cached_db"
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": CLOSED_REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


@pytest.mark.django_db
def test_a_participant_goes_on_while_the_cache_is_down(
    client, account, cached_db_sessions_with_the_cache_down
):
    from participants.models import Participation
    from tests.factories import ParticipantFactory, make_form_campaign
    from tests.participants.conftest import answers, form_token, form_url, log_in

    campaign = make_form_campaign(account=account)
    log_in(client, campaign, ParticipantFactory(account=account))  # their session, in the DB

    page = client.get(form_url(campaign))
    assert page.status_code == 200 and 'value="Ada"' in page.text
    submitted = client.post(form_url(campaign), answers(form_token(page)))
    assert submitted.status_code == 303
    assert client.get(submitted["Location"]).status_code == 200  # the thank-you page
    assert Participation.objects.get().participant is not None


@pytest.mark.django_db
def test_a_new_key_still_replaces_the_old_one_while_the_cache_is_down(
    cached_db_sessions_with_the_cache_down,
):
    from django.contrib.sessions.models import Session

    from config.sessions.cached_db import SessionStore

    session = SessionStore()
    session["participated:1"] = True
    session.save()
    old_key = session.session_key
    session.cycle_key()
    session.save()
    assert not Session.objects.filter(session_key=old_key).exists()
    assert SessionStore(session.session_key)["participated:1"] is True
