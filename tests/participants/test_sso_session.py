"""Single-use login state (participants.session)."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from integrations.callback import CALLBACK_PATH, callback_url
from participants.session import (
    BROWSER_COOKIE,
    StateError,
    login_attempt_claim,
    login_attempt_start,
    return_to_safe,
)
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
        redirect_uri=callback_url(),
    )


def callback_request(started, *, browser=None):
    request = RequestFactory().get("/oauth/callback")
    request.COOKIES[BROWSER_COOKIE] = browser or started.browser_value
    return request


def test_the_callback_url_is_the_path_idps_have_registered():
    assert reverse("participants:oauth_callback") == CALLBACK_PATH


def test_a_state_can_be_claimed_once(started):
    attempt = login_attempt_claim(request=callback_request(started), state=started.state)
    assert attempt.used_at is not None
    with pytest.raises(StateError) as exc_info:
        login_attempt_claim(request=callback_request(started), state=started.state)
    assert exc_info.value.code == "state_reused"


def test_a_state_from_another_browser_is_burnt(started):
    with pytest.raises(StateError) as exc_info:
        login_attempt_claim(
            request=callback_request(started, browser="x" * 43), state=started.state
        )
    assert exc_info.value.code == "state_other_browser"
    with pytest.raises(StateError) as exc_info:
        login_attempt_claim(request=callback_request(started), state=started.state)
    assert exc_info.value.code == "state_reused"


@pytest.mark.parametrize("state", ["", "x" * 600])
def test_missing_or_absurd_state(started, state):
    with pytest.raises(StateError) as exc_info:
        login_attempt_claim(request=callback_request(started), state=state)
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
            redirect_uri=callback_url(),
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
