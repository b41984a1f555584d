"""Which redirect URI to register, as the admin shows it and saves it (issue 14): each
integration's own callback URL, and the shared one only for a verified issuer that sends iss."""

import re

import pytest
import responses
from django.core import signing
from django.urls import reverse

from integrations.models import OAuthIntegration
from integrations.oauth.forms import CALLBACK_KEY_SALT
from tests.factories import OAuthIntegrationFactory

from .oauth_admin_helpers import ADD_URL, change_url, form_data

pytestmark = pytest.mark.django_db

DISCOVERY_URL = "https://idp.example.com/.well-known/openid-configuration"
METADATA = {
    "issuer": "https://idp.example.com",
    "authorization_endpoint": "https://idp.example.com/authorize",
    "token_endpoint": "https://idp.example.com/token",
    "userinfo_endpoint": "https://idp.example.com/userinfo",
    "jwks_uri": "https://idp.example.com/jwks",
    "authorization_response_iss_parameter_supported": True,
    "code_challenge_methods_supported": ["S256"],
}
SHARED_ERROR = "The shared callback URL is only accepted for an issuer verified"


@pytest.fixture
def logged_in(client, admin_user_a):
    client.force_login(admin_user_a)
    return client


def _errors(response):
    return response.context["adminform"].form.errors if response.context else response.status_code


def _shown_key(html: str) -> str:
    match = re.search(
        r'<code id="oauth-callback-url">https://sso\.example\.test/oauth/callback/'
        r"([A-Za-z0-9_-]+)</code>",
        html,
    )
    assert match, "no callback URL on the page"
    return match.group(1)


def _token(html: str) -> str:
    return re.search(r'name="callback_key_token" value="([^"]+)"', html).group(1)


# ---------------------------------------------------------------------------- the URL shown
def test_the_add_page_shows_the_url_the_integration_is_saved_with(logged_in):
    page = logged_in.get(reverse(ADD_URL)).text
    key = _shown_key(page)
    assert "Register exactly this URL as the redirect URI at your IdP" in page
    assert "RFC 9700" in page
    response = logged_in.post(reverse(ADD_URL), form_data(callback_key_token=_token(page)))
    assert response.status_code == 302, _errors(response)
    integration = OAuthIntegration.objects.get()
    assert integration.callback_key == key
    assert integration.use_shared_callback is False
    # …and the change page shows the same URL, forever.
    assert _shown_key(logged_in.get(change_url(integration)).text) == key


def test_two_add_pages_show_two_urls(logged_in):
    first = _shown_key(logged_in.get(reverse(ADD_URL)).text)
    second = _shown_key(logged_in.get(reverse(ADD_URL)).text)
    assert first != second


@pytest.mark.parametrize(
    "token",
    [
        signing.dumps("chosen-by-me", salt="another-salt"),
        "chosen-by-me",
        signing.dumps("chosen-by-me", salt=CALLBACK_KEY_SALT)[:-2] + "xx",
    ],
    ids=["wrong-salt", "unsigned", "tampered"],
)
def test_nobody_picks_their_own_callback_key(logged_in, token):
    response = logged_in.post(reverse(ADD_URL), form_data(callback_key_token=token))
    assert response.status_code == 200
    assert "This page is too old" in response.text
    assert not OAuthIntegration.objects.exists()


def test_an_add_form_saved_twice_makes_one_integration(logged_in):
    token = _token(logged_in.get(reverse(ADD_URL)).text)
    assert logged_in.post(reverse(ADD_URL), form_data(callback_key_token=token)).status_code == 302
    again = logged_in.post(reverse(ADD_URL), form_data(callback_key_token=token))
    assert again.status_code == 200
    assert "This form was already saved" in again.text
    assert OAuthIntegration.objects.count() == 1


def test_the_callback_key_cannot_be_changed_by_a_post(logged_in, account):
    integration = OAuthIntegrationFactory(account=account)
    key = integration.callback_key
    token = signing.dumps("new-key-attempt", salt=CALLBACK_KEY_SALT)
    logged_in.post(change_url(integration), form_data(callback_key_token=token, client_secret=""))
    integration.refresh_from_db()
    assert integration.callback_key == key


# ---------------------------------------------------------------------------- verified issuer
@responses.activate
def test_discovery_verifies_the_issuer_and_a_hand_edit_removes_the_mark(logged_in):
    responses.get(DISCOVERY_URL, json=METADATA)
    response = logged_in.post(
        reverse(ADD_URL),
        form_data(
            discovery_url="https://idp.example.com", authorization_endpoint="", token_endpoint=""
        ),
    )
    assert response.status_code == 302, _errors(response)
    integration = OAuthIntegration.objects.get()
    assert integration.issuer_verified and integration.shared_callback_allowed
    page = logged_in.get(change_url(integration)).text
    assert "✔ Verified" in page
    assert "may be used" in page

    edited = form_data(
        client_secret="",
        issuer=integration.issuer,
        jwks_uri=integration.jwks_uri,
        iss_parameter_supported="on",
        token_endpoint="https://idp.example.com/other-token",
    )
    assert logged_in.post(change_url(integration), edited).status_code == 302
    integration.refresh_from_db()
    assert not integration.issuer_verified
    assert integration.discovered_settings == {}
    assert "✘ Not verified." in logged_in.get(change_url(integration)).text


def test_the_shared_callback_needs_a_verified_issuer(logged_in, account):
    integration = OAuthIntegrationFactory(account=account, iss_parameter_supported=True)
    response = logged_in.post(
        change_url(integration),
        form_data(
            client_secret="",
            use_shared_callback="True",
            issuer="https://idp.example.com",
            iss_parameter_supported="on",
        ),
    )
    assert response.status_code == 200
    assert SHARED_ERROR in response.text
    integration.refresh_from_db()
    assert integration.use_shared_callback is False


@responses.activate
def test_the_shared_callback_needs_an_idp_that_sends_iss(logged_in):
    responses.get(
        DISCOVERY_URL, json={**METADATA, "authorization_response_iss_parameter_supported": False}
    )
    response = logged_in.post(
        reverse(ADD_URL),
        form_data(discovery_url="https://idp.example.com", use_shared_callback="True"),
    )
    assert response.status_code == 200
    assert SHARED_ERROR in response.text
    assert not OAuthIntegration.objects.exists()


@responses.activate
def test_a_verified_issuer_that_sends_iss_may_choose_the_shared_callback(logged_in):
    responses.get(DISCOVERY_URL, json=METADATA)
    response = logged_in.post(
        reverse(ADD_URL),
        form_data(
            discovery_url="https://idp.example.com",
            authorization_endpoint="",
            token_endpoint="",
            use_shared_callback="True",
        ),
    )
    assert response.status_code == 302, _errors(response)
    integration = OAuthIntegration.objects.get()
    assert integration.use_shared_callback is True
    assert integration.unavailable_reason() == ""


def test_an_integration_left_on_the_shared_url_unverified_says_why_logins_are_off(
    logged_in, account
):
    # What the migration leaves for integrations made before per-integration URLs.
    integration = OAuthIntegrationFactory(account=account, use_shared_callback=True)
    page = logged_in.get(change_url(integration)).text
    assert "Participants cannot log in" in page
    assert "It uses the shared callback URL" in page
    changelist = logged_in.get(reverse("admin:integrations_oauthintegration_changelist")).text
    assert "⚠ Off" in changelist
    # Disabling it stays possible without first fixing the redirect URI.
    response = logged_in.post(
        change_url(integration),
        form_data(client_secret="", enabled="", use_shared_callback="True"),
    )
    assert response.status_code == 302, _errors(response)
