"""Single-use login state (participants.login.state)."""

import json
from dataclasses import fields
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.test import RequestFactory
from django.urls import reverse

from integrations.oauth.redirect_uri import SHARED_CALLBACK_PATH, callback_url
from integrations.oauth.snapshot import FlowSnapshot
from participants.login.state import (
    BROWSER_COOKIE,
    StateError,
    login_attempt_claim,
    login_attempt_start,
    return_to_safe,
)
from participants.models import LoginAttempt
from tests.factories import OAuthIntegrationFactory


@pytest.fixture
def started(account):
    integration = OAuthIntegrationFactory(account=account, use_pkce=True)
    request = RequestFactory().get("/")
    return login_attempt_start(
        request=request,
        integration=integration,
        campaign=None,
        return_to="/c/x/form/",
        redirect_uri=callback_url(integration),
    )


def callback_request(started, *, browser=None):
    request = RequestFactory().get("/oauth/callback")
    request.COOKIES[BROWSER_COOKIE] = browser or started.browser_value
    return request


def claim(request, started, state):
    """Claim on the callback path the login was started with."""
    key = started.attempt.integration.callback_key
    request.GET = QueryDict(urlencode({"state": state}))
    return login_attempt_claim(request=request, callback_key=key)


def test_the_shared_callback_url_is_the_path_of_the_help_article():
    assert reverse("participants:oauth_callback") == SHARED_CALLBACK_PATH


def test_each_integration_has_its_own_callback_url(account):
    first, second = OAuthIntegrationFactory.create_batch(2, account=account)
    assert callback_url(first) == f"https://sso.example.test/oauth/callback/{first.callback_key}"
    assert callback_url(first) != callback_url(second)
    # Public and random: never the primary key, long enough not to be guessed.
    assert first.callback_key != str(first.pk)
    assert len(first.callback_key) >= 22


def test_a_state_can_be_claimed_once(started):
    attempt = claim(callback_request(started), started, started.state)
    assert attempt.used_at is not None
    with pytest.raises(StateError) as exc_info:
        claim(callback_request(started), started, started.state)
    assert exc_info.value.code == "state_reused"


def test_a_state_from_another_browser_is_burnt(started):
    with pytest.raises(StateError) as exc_info:
        claim(callback_request(started, browser="x" * 43), started, started.state)
    assert exc_info.value.code == "state_other_browser"
    with pytest.raises(StateError) as exc_info:
        claim(callback_request(started), started, started.state)
    assert exc_info.value.code == "state_reused"


@pytest.mark.parametrize("state", ["", "x" * 600])
def test_missing_or_absurd_state(started, state):
    with pytest.raises(StateError) as exc_info:
        claim(callback_request(started), started, state)
    assert exc_info.value.code == "state_missing"


def test_verifiers_states_and_nonces_are_unique(account):
    integration = OAuthIntegrationFactory(account=account, use_pkce=True)
    seen = set()
    for _ in range(50):
        s = login_attempt_start(
            request=RequestFactory().get("/"),
            integration=integration,
            campaign=None,
            return_to="",
            redirect_uri=callback_url(integration),
        )
        verifier = s.attempt.code_verifier
        assert 43 <= len(verifier) <= 128
        seen.update({s.state, s.attempt.nonce, verifier})
    assert len(seen) == 150


@pytest.mark.parametrize(
    "value",
    [
        "//evil.com",
        "https://evil.com",
        "/\\evil.com",
        "\\\\evil.com",
        "javascript:alert(1)",
        "%2F%2Fevil.com",
        "http:/evil.com",
        "",
        None,
    ],
)
def test_return_to_refuses_anything_but_a_same_origin_path(value):
    assert return_to_safe(value, default="/default/") == "/default/"


def test_return_to_keeps_a_same_origin_path():
    assert return_to_safe("/c/x/form/?a=1", default="/d/") == "/c/x/form/?a=1"


def test_an_attempt_whose_snapshot_cannot_be_read_is_burnt_and_refused(started):
    started.attempt.snapshot = {"client_id": "only-part-of-it"}
    started.attempt.save(update_fields=["snapshot"])
    with pytest.raises(StateError) as exc_info:
        claim(callback_request(started), started, started.state)
    assert exc_info.value.code == "callback_mismatch"
    started.attempt.refresh_from_db()
    assert started.attempt.used_at is not None  # spent: it cannot be tried again


def test_the_attempt_keeps_every_setting_of_the_flow_and_reads_them_back(account):
    """What the callback talks to is what the start stored, field for field, as plain JSON."""
    integration = OAuthIntegrationFactory(
        account=account,
        use_pkce=True,
        identifier_source="userinfo",
        identifier_field="employee_id",
        connect_timeout=3.5,
    )
    redirect_uri = callback_url(integration)
    started = login_attempt_start(
        request=RequestFactory().get("/"),
        integration=integration,
        campaign=None,
        return_to="/c/x/form/",
        redirect_uri=redirect_uri,
    )
    stored = LoginAttempt.objects.get(pk=started.attempt.pk).snapshot
    expected = FlowSnapshot.of(integration, redirect_uri=redirect_uri)
    assert stored == {field.name: getattr(expected, field.name) for field in fields(expected)}
    assert json.loads(json.dumps(stored)) == stored
    assert FlowSnapshot.from_json(stored) == expected
    assert stored["identifier_field"] == "employee_id" and stored["connect_timeout"] == 3.5
