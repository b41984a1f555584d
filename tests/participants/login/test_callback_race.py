"""OF-08 under concurrency: two callbacks with the same state, racing, make one token call.

The state is claimed by a conditional UPDATE (`used_at IS NULL`) before any network call. On
PostgreSQL the race is made certain, not likely: a row lock held by the test keeps every
callback waiting *after* it has read the still-unused attempt and *before* its UPDATE; once the
lock is released, only the first UPDATE may match.

Also on PostgreSQL: first logins of one person racing each other make one participant.
"""

import json
import threading
import time
from collections import Counter

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from participants.models import LoginAttempt, Participant
from tests.idp_stub import IdPStub
from tests.participants.login.sso_flow import (
    JWKS_URL,
    TOKEN_URL,
    callback_path,
    login_start,
    make_sso_campaign,
    mock,
)

RACERS = 5

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_racing_callbacks_with_the_same_state_make_exactly_one_token_call(account, settings):
    settings.RATE_LIMITS = {"login": {"ip": "1000/m", "campaign": "1000/m"}}
    campaign, _integration = make_sso_campaign(account)
    idp = IdPStub()
    browser = Client()
    started = login_start(browser, campaign)
    token_calls = Counter()
    lock = threading.Lock()

    def token_answer(request):
        with lock:
            token_calls["token"] += 1
        body = {
            "access_token": "at",
            "token_type": "Bearer",
            "id_token": idp.sign(idp.claims(nonce=started.nonce, given_name="Ada")),
        }
        return (200, {"Content-Type": "application/json"}, json.dumps(body))

    statuses: list[int] = []
    errors: list[Exception] = []

    def racer():
        racer_client = Client()
        racer_client.cookies = browser.cookies  # the same browser, e.g. a double-clicked link
        try:
            response = racer_client.get(
                callback_path(started), {"code": "the-code", "state": started.state}
            )
            with lock:
                statuses.append(response.status_code)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    with mock() as rsps:
        rsps.add_callback("POST", TOKEN_URL, callback=token_answer)
        rsps.get(JWKS_URL, json=idp.jwks())
        threads = [threading.Thread(target=racer) for _ in range(RACERS)]
        with transaction.atomic():
            LoginAttempt.objects.select_for_update().get()
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 20
            while _waiting_on_locks() < RACERS and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _waiting_on_locks() == RACERS, "every callback waits on its UPDATE"
        for thread in threads:
            thread.join(30)

    assert errors == []
    assert token_calls["token"] == 1
    assert sorted(statuses) == [303] + [400] * (RACERS - 1)
    assert Participant.objects.count() == 1


def test_first_logins_of_one_person_at_once_make_one_participant(account):
    """participant_upsert is one INSERT … ON CONFLICT: threads that all find no participant
    and insert at the same moment end with one row, and every one of them gets its id."""
    from integrations.oauth.answer import Identity
    from participants.login.completion import participant_upsert

    _campaign, integration = make_sso_campaign(account)
    people = [Identity(issuer_key="https://idp.example.com", subject=f"ada-{n}") for n in range(20)]
    start = threading.Barrier(RACERS)
    returned: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def racer():
        ids = {}
        try:
            start.wait(timeout=10)
            for identity in people:
                ids[identity.subject] = participant_upsert(
                    integration=integration, identity=identity
                )
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()
        returned.append(ids)

    threads = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert Participant.objects.count() == len(people)
    stored = dict(Participant.objects.values_list("subject", "pk"))
    assert all(ids == stored for ids in returned) and len(returned) == RACERS
