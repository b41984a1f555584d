"""PostgreSQL is unreachable: participants see only pages for people, never a bare 500 or 400.

The database is real and really goes away: a PostgreSQL cluster of the test session's own
(`initdb` + `pg_ctl` on a free loopback port, tests/faults/servers.py), to which Django's default
connection points for each test whatever database the rest of the suite uses, is shut down
("immediate", as a crash or a failover looks to its clients) and started again. The cache is a
Redis process of the test's own, as in production, so that the public campaign cache is shared
and sessions are in `cached_db`.

What must hold: a page that can answer without the database does (a campaign this process
keeps); every other participant page answers the friendly "temporarily unavailable" page (503,
`Retry-After`), in the participant's language; a submitted form comes back with its answers
(503) and, once the database is back, the same submission is stored exactly once; a
participation stored just before the outage is confirmed as stored.
"""

import pytest
from django.db import transaction
from django.db.models.signals import post_save
from django.test import Client
from django.urls import reverse

from participants.models import AttemptOutcome, LoginAttempt, Participation
from tests.factories import AccountFactory, ParticipantFactory, make_form_campaign
from tests.faults.conftest import READ_TIMEOUT
from tests.participants.conftest import answers, form_token
from tests.participants.login.sso_flow import callback, login_start, make_sso_campaign

pytestmark = pytest.mark.usefixtures("redis_cache_server")

FRIENDLY = "Temporarily unavailable"
FRIENDLY_FR = "Momentanément indisponible"
NOT_SAVED = "We could not save your answers just now"


@pytest.fixture
def account(own_database):
    return AccountFactory(name="Account A", slug="account-a")


@pytest.fixture
def campaign(account):
    return make_form_campaign(account=account, title="Summer contest", slug="summer")


def url(name, campaign, **query):
    path = reverse(f"participants:{name}", args=[campaign.slug])
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def assert_friendly_503(response, *, text=FRIENDLY):
    assert response.status_code == 503, (response.status_code, response.content[:300])
    assert text in response.text
    assert int(response["Retry-After"]) > 0
    assert "Server Error" not in response.text and "Traceback" not in response.text


# ---------------------------------------------------------------------------- pages
def test_a_kept_campaign_is_served_and_an_unknown_one_gets_the_friendly_page(
    client, own_database, account, campaign
):
    other = make_form_campaign(account=account, title="Winter contest", slug="winter")
    assert client.get(url("landing", campaign)).status_code == 200  # now kept by this process

    with own_database.down():
        landing = client.get(url("landing", campaign))
        assert landing.status_code == 200
        assert "Summer contest" in landing.text
        # Never loaded by this process (a worker recycled mid-outage): the honest answer.
        assert_friendly_503(client.get(url("landing", other)))
        assert_friendly_503(client.get(url("landing", other, lang="fr")), text=FRIENDLY_FR)

    assert client.get(url("landing", other)).status_code == 200


def test_the_form_is_shown_during_the_outage(client, own_database, campaign):
    assert client.get(url("landing", campaign)).status_code == 200
    with own_database.down():
        form = client.get(url("form", campaign))
    # "Once per participant" cannot be checked now: the submit checks it again.
    assert form.status_code == 200
    assert 'name="form_token"' in form.text


def test_a_form_submitted_during_the_outage_comes_back_then_is_stored_once(
    client, own_database, campaign
):
    form = client.get(url("form", campaign))
    data = answers(form_token(form), lastname="Byron", phone="+32470123456")

    with own_database.down():
        response = client.post(url("form", campaign), data)
        assert_friendly_503(response, text=NOT_SAVED)
        assert 'value="Byron"' in response.text
        assert 'value="+32470123456"' in response.text
        assert form_token(response) == data["form_token"]
        french = client.post(url("form", campaign, lang="fr"), data)
        assert_friendly_503(french, text="Nous n’avons pas pu enregistrer vos réponses")

    again = client.post(url("form", campaign), data)
    assert again.status_code == 303, again.status_code
    assert client.post(url("form", campaign), data).status_code == 303  # a double click
    assert Participation.objects.count() == 1
    assert Participation.objects.get().values["lastname"] == "Byron"
    assert client.get(again["Location"]).status_code == 200


def test_a_logged_in_participants_form_comes_back_prefilled(client, own_database, campaign):
    from tests.participants.conftest import log_in as prefill_log_in

    participant = ParticipantFactory(account=campaign.account)
    prefill_log_in(client, campaign, participant)
    data = answers(form_token(client.get(url("form", campaign))))
    with own_database.down():
        response = client.post(url("form", campaign), data)
    assert_friendly_503(response, text=NOT_SAVED)
    assert client.post(url("form", campaign), data).status_code == 303
    assert Participation.objects.get().participant == participant


def test_a_participation_stored_just_before_the_outage_is_confirmed(client, own_database, campaign):
    """The participation commits, then the database goes away before the answer is sent (and
    before the session, which this request changed, is saved): the participant is told it is
    stored, and the thank-you page shows, without the database."""
    from tests.participants.conftest import log_in as prefill_log_in

    participant = ParticipantFactory(account=campaign.account)
    prefill_log_in(client, campaign, participant)
    data = answers(form_token(client.get(url("form", campaign))))
    # A session written by an earlier release: reading the prefill writes the session again.
    session = client.session
    prefill = session[f"sso:{campaign.pk}"]
    del prefill["auto_submit_token"]
    session[f"sso:{campaign.pk}"] = prefill
    session.save()
    assert "auto_submit_token" not in client.session[f"sso:{campaign.pk}"]

    def crash_after_commit(sender, instance, created, **kwargs):
        if created:
            transaction.on_commit(own_database.stop)

    post_save.connect(crash_after_commit, sender=Participation, dispatch_uid="crash")
    try:
        response = client.post(url("form", campaign), data)
    finally:
        post_save.disconnect(dispatch_uid="crash", sender=Participation)
    assert not own_database.cluster.running
    assert response.status_code == 303, (response.status_code, response.content[:300])
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert "Thank you for taking part!" in thanks.text

    own_database.start()
    assert Participation.objects.count() == 1
    # Submitting the same form again confirms it again, and stores nothing more.
    assert client.post(url("form", campaign), data).status_code == 303
    assert Participation.objects.count() == 1


# ---------------------------------------------------------------------------- login
@pytest.fixture
def sso_campaign(account, idp):
    campaign, _integration = make_sso_campaign(
        account,
        issuer=idp.base,
        token_endpoint=f"{idp.base}/token",
        jwks_uri=f"{idp.base}/jwks",
        connect_timeout=READ_TIMEOUT,
        read_timeout=READ_TIMEOUT,
    )
    return campaign


def test_login_start_gets_the_friendly_page(client, own_database, sso_campaign):
    assert client.get(url("landing", sso_campaign)).status_code == 200
    with own_database.down():
        response = client.get(url("login_start", sso_campaign))
        assert_friendly_503(response)
        assert url("landing", sso_campaign) in response.text  # back to the campaign
        assert_friendly_503(
            client.get(url("login_start", sso_campaign, lang="fr")), text=FRIENDLY_FR
        )
    assert client.get(url("login_start", sso_campaign)).status_code == 302


def test_the_callback_gets_the_friendly_page_and_works_once_the_database_is_back(
    client, own_database, sso_campaign, idp
):
    started = login_start(client, sso_campaign)
    idp.nonce = started.nonce
    with own_database.down():
        response = callback(client, started)
        assert_friendly_503(response)
        # Nothing on the page repeats the callback's code or state.
        assert started.state not in response.text and "the-code" not in response.text
        assert response["Referrer-Policy"] == "no-referrer"
    # The attempt was never claimed: the same callback (a reload) completes the login.
    response = callback(client, started)
    assert response.status_code == 303, response.status_code
    assert LoginAttempt.objects.get().outcome == AttemptOutcome.SUCCESS
    assert 'value="Ada"' in client.get(url("form", sso_campaign)).text


def test_a_database_error_outside_the_view_gets_the_friendly_page(own_database, campaign):
    # A refused CSRF check renders its page from the CSRF middleware; while the database is
    # down the session it reads cannot load: handler500 is the last line.
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.get(url("form", campaign))
    client.cookies.load({"sessionid": "x" * 32})
    with own_database.down():
        response = client.post(url("form", campaign), answers("t" * 40))
    assert_friendly_503(response)


def test_healthz_says_the_node_cannot_serve(client, own_database):
    with own_database.down():
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable", "cache": "ok"}
    assert client.get("/healthz").status_code == 200


def test_admin_pages_keep_djangos_error_handling(own_database):
    client = Client(raise_request_exception=False)
    client.cookies.load({"sessionid": "x" * 32})  # a session to read: the database has it
    with own_database.down():
        response = client.get("/admin/")
    assert response.status_code == 500
    assert FRIENDLY not in response.content.decode()
