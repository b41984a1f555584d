"""RF-04: an IdP whose token endpoint keeps failing is left alone for a while.

After IDP_BREAKER_FAILURES consecutive failures of one integration, login start shows "the
login service is unavailable" (and "continue without logging in" when the campaign allows it)
without sending anyone to the IdP, and callbacks fail without calling it. The circuit closes by
itself after IDP_BREAKER_OPEN_SECONDS, through one trial call (half-open).
"""

import threading
import time

import pytest
from django.core import mail
from django.db import connections
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from campaigns.models import SSOMode
from integrations.models import SignInAlert
from participants.models import LoginAttempt
from tests.factories import OAuthIntegrationFactory, make_form_campaign, make_member
from tests.faults.conftest import log_in
from tests.participants.login.sso_flow import callback, login_start, make_sso_campaign


@pytest.fixture(autouse=True)
def _breaker(settings):
    settings.IDP_BREAKER_FAILURES = 3
    settings.IDP_BREAKER_OPEN_SECONDS = 30


def fail_logins(campaign, idp, count):
    for _ in range(count):
        assert log_in(Client(), campaign, idp).status_code in (503, 504)


def login_page(campaign):
    return Client().get(reverse("participants:login_start", args=[campaign.slug]))


def test_repeated_token_failures_open_the_circuit(campaign, idp):
    idp.token = 503
    fail_logins(campaign, idp, 3)
    response = login_page(campaign)
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "The login service is unavailable" in response.text
    assert "Continue without logging in" in response.text
    assert reverse("participants:form", args=[campaign.slug]) in response.text
    # Nobody was sent to the IdP and no attempt was started.
    assert LoginAttempt.objects.count() == 3
    assert idp.calls["token"] == 3


def test_a_required_login_offers_no_way_around(campaign, idp):
    campaign.sso_mode = SSOMode.REQUIRED
    campaign.save()
    idp.token = "hang"
    fail_logins(campaign, idp, 3)
    response = login_page(campaign)
    assert response.status_code == 503
    assert "Continue without logging in" not in response.text


def test_a_callback_while_open_does_not_call_the_idp(client, campaign, idp):
    started = login_start(client, campaign)  # at the IdP when the circuit opens
    idp.token = 500
    fail_logins(campaign, idp, 3)
    idp.token = "ok"
    idp.nonce = started.nonce
    response = callback(client, started)
    assert response.status_code == 503
    assert idp.calls["token"] == 3
    attempt = LoginAttempt.objects.order_by("pk").first()
    assert (attempt.failed_step, attempt.error_code) == ("token", "circuit_open")


def test_the_circuit_closes_by_itself(settings, campaign, idp):
    settings.IDP_BREAKER_OPEN_SECONDS = 1
    idp.token = 503
    fail_logins(campaign, idp, 3)
    assert login_page(campaign).status_code == 503
    time.sleep(1.2)
    idp.token = "ok"
    assert login_page(campaign).status_code == 302
    assert log_in(Client(), campaign, idp).status_code == 303


def test_a_success_resets_the_count(campaign, idp):
    idp.token = 503
    fail_logins(campaign, idp, 2)
    idp.token = "ok"
    assert log_in(Client(), campaign, idp).status_code == 303
    idp.token = 503
    fail_logins(campaign, idp, 2)
    assert login_page(campaign).status_code == 302


def test_refused_codes_are_the_participants_not_an_outage(campaign, idp):
    # invalid_grant (an expired or reused code) says nothing about the IdP's health.
    idp.token = "invalid_grant"
    for _ in range(4):
        assert log_in(Client(), campaign, idp).status_code == 400
    assert login_page(campaign).status_code == 302


def test_the_circuit_is_per_integration(account, campaign, integration, idp):
    other = OAuthIntegrationFactory(
        account=account,
        issuer=idp.base,
        token_endpoint=f"{idp.base}/token",
        jwks_uri=f"{idp.base}/jwks",
    )
    other_campaign = make_form_campaign(account=account, slug="other", oauth_integration=other)
    idp.token = 503
    fail_logins(campaign, idp, 3)
    assert login_page(campaign).status_code == 503
    assert login_page(other_campaign).status_code == 302


def test_an_outage_alerts_the_administrators_once_and_recovery_ends_it(
    settings, account, campaign, integration, idp, django_capture_on_commit_callbacks
):
    # RF-04's "tenant admin alerted": when the circuit opens, not at every failed login.
    make_member(account, Role.ADMINISTRATOR, username="admin-a")
    settings.IDP_BREAKER_OPEN_SECONDS = 1
    idp.token = 503
    with django_capture_on_commit_callbacks(execute=True):
        fail_logins(campaign, idp, 2)
        assert not SignInAlert.objects.exists()
        fail_logins(campaign, idp, 1)
    alert = SignInAlert.objects.get(integration=integration)
    assert alert.active and alert.error_code == "circuit_open"
    assert len(mail.outbox) == 1 and "Check that your IdP is up" in mail.outbox[0].body

    time.sleep(1.2)  # the circuit closes; the IdP is back
    idp.token = "ok"
    assert log_in(Client(), campaign, idp).status_code == 303
    alert.refresh_from_db()
    assert not alert.active


@pytest.mark.django_db(transaction=True)
def test_after_the_pause_one_trial_call_goes_through_while_the_others_still_pause(
    settings, account, idp
):
    """Half-open: the logins that waited do not all rush an IdP that may still be down."""
    settings.IDP_BREAKER_OPEN_SECONDS = 1
    campaign, _integration = make_sso_campaign(
        account,
        issuer=idp.base,
        token_endpoint=f"{idp.base}/token",
        jwks_uri=f"{idp.base}/jwks",
        read_timeout=20,  # a safety net: the IdP holds the trial until the test lets it go
    )
    # Participants who went to the IdP before the outage, and come back during it.
    waiting = [(browser := Client(), login_start(browser, campaign)) for _ in range(5)]
    idp.token = 503
    fail_logins(campaign, idp, 3)
    time.sleep(1.2)  # the pause is over
    idp.token = "hold"

    trial = threading.Thread(target=_callback_in_thread, args=waiting.pop(), daemon=True)
    trial.start()
    assert _wait_until(lambda: idp.calls["token"] == 4), "the trial is at the IdP"
    for browser, started in waiting[:2]:
        response = callback(browser, started)
        assert response.status_code == 503 and response["Retry-After"] == "1"
    assert login_page(campaign).status_code == 503  # nobody is sent to the IdP meanwhile
    assert idp.calls["token"] == 4  # exactly one trial

    idp.let_go()  # the trial fails: open again at once
    trial.join(30)
    browser, started = waiting[2]
    assert callback(browser, started).status_code == 503
    assert idp.calls["token"] == 4

    time.sleep(1.2)
    idp.token = "ok"
    assert log_in(Client(), campaign, idp).status_code == 303  # the next trial is answered
    assert log_in(Client(), campaign, idp).status_code == 303  # closed: everyone goes
    assert idp.calls["token"] == 6
    codes = list(LoginAttempt.objects.values_list("error_code", flat=True))
    assert codes.count("circuit_open") == 3 and codes.count("token_http") == 4


def _callback_in_thread(browser, started):
    try:
        callback(browser, started)
    finally:
        connections.close_all()


def _wait_until(condition, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()
