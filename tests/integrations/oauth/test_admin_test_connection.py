"""Test connection: the button and the action, for each answer an IdP can give; the button
tests the values on the page, saved or not, and saves nothing."""

import base64
from urllib.parse import parse_qsl

import pytest
import requests
import responses
from cryptography.fernet import Fernet
from django.core.cache import cache
from django.urls import reverse

from integrations.models import OAuthIntegration
from tests.admin_html import readonly_value
from tests.factories import OAuthIntegrationFactory, make_staff

from .oauth_admin_helpers import CHANGELIST_URL, change_url, connection_test_url, screen_values

pytestmark = pytest.mark.django_db

AUTHORIZE = "https://idp.example.com/authorize"
TOKEN = "https://idp.example.com/token"
SECRET = "p:a%s+s/w=o rd-é"


@pytest.fixture
def integration(account):
    integration = OAuthIntegrationFactory(account=account, client_secret=SECRET)
    integration.refresh_from_db()
    return integration


@pytest.fixture
def logged_in(client, admin_user_a):
    client.force_login(admin_user_a)
    return client


def _run(client, integration, **edits):
    """Press Test connection on the change page, after typing `edits` into its form."""
    response = client.post(
        connection_test_url(integration), screen_values(client, integration, **edits)
    )
    # The change page again, with the form as it was posted: nothing saved, nothing lost.
    assert response.status_code == 200
    assert response.context["adminform"].form.is_bound
    integration.refresh_from_db()
    messages = [str(m) for m in response.context["messages"]]
    return response, " ".join(messages)


ANSWERS = [
    (
        {"status": 400, "json": {"error": "invalid_grant"}},
        True,
        "accepted the client credentials",
    ),
    (
        {"status": 400, "json": {"error": "invalid_client", "error_description": "bad secret"}},
        False,
        "the IdP rejected the client credentials: check the secret and the authentication method",
    ),
    (
        {"status": 401, "body": "Unauthorized"},
        False,
        "the IdP rejected the client credentials: check the secret and the authentication method",
    ),
    ({"body": requests.exceptions.ConnectTimeout()}, False, "could not be reached in time"),
    ({"body": requests.exceptions.ReadTimeout()}, False, "did not answer in time"),
    ({"body": requests.exceptions.SSLError()}, False, "TLS certificate could not be verified"),
    ({"body": requests.exceptions.ConnectionError()}, False, "connection to the token endpoint"),
    ({"status": 200, "body": "<html><h1>Sign in</h1></html>"}, False, "did not answer with JSON"),
    ({"status": 502, "body": "<html>Bad gateway</html>"}, False, "HTTP 502"),
    ({"status": 400, "json": {"error": "unauthorized_client"}}, False, "unauthorized_client"),
]


@responses.activate
@pytest.mark.parametrize(("answer", "ok", "words"), ANSWERS)
def test_each_idp_answer_is_said_in_plain_words(
    logged_in, admin_user_a, integration, answer, ok, words
):
    responses.get(AUTHORIZE, status=200, body="<html>login</html>")
    responses.post(TOKEN, **answer)
    response, messages = _run(logged_in, integration)
    assert words.lower() in messages.lower()
    assert integration.last_test_ok is ok
    assert integration.last_test_by == admin_user_a
    assert integration.last_test_at is not None
    assert words.lower() in integration.last_test_message.lower()
    for leaked in (SECRET, "bad secret", "<html>", "Sign in", "Bad gateway"):
        assert leaked not in messages and leaked not in integration.last_test_message
        assert leaked not in response.text
    # The recorded result is shown on the change page.
    assert ("Passed" if ok else "Failed") in response.text


@responses.activate
def test_an_unreachable_authorization_endpoint_is_reported(logged_in, integration):
    responses.get(AUTHORIZE, status=503)
    responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    _, messages = _run(logged_in, integration)
    assert integration.last_test_ok is False
    assert "authorization endpoint answered with a server error (HTTP 503)" in messages


@responses.activate
def test_basic_auth_sends_the_exact_rfc6749_header(logged_in, integration):
    integration.client_auth_method = "client_secret_basic"
    integration.client_id = "id:with+odd/chars=% é"
    integration.save()
    responses.get(AUTHORIZE, status=200)
    responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    _run(logged_in, integration)
    request = responses.calls[1].request
    # By hand: percent-encode each part (UTF-8, a space as %20), join with ":", Base64.
    userpass = "id%3Awith%2Bodd%2Fchars%3D%25%20%C3%A9:p%3Aa%25s%2Bs%2Fw%3Do%20rd-%C3%A9"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(
        userpass.encode("ascii")
    ).decode("ascii")
    body = dict(parse_qsl(request.body.decode()))
    assert "client_secret" not in body and "client_id" not in body
    assert body["grant_type"] == "authorization_code"
    # The redirect URI the integration's logins send: its own.
    assert (
        body["redirect_uri"]
        == f"https://sso.example.test/oauth/callback/{integration.callback_key}"
    )
    assert integration.last_test_ok is True


@responses.activate
def test_post_auth_sends_credentials_only_in_the_body(logged_in, integration):
    responses.get(AUTHORIZE, status=200)
    responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    _run(logged_in, integration)
    request = responses.calls[1].request
    assert "Authorization" not in request.headers
    body = dict(parse_qsl(request.body.decode()))
    assert (body["client_id"], body["client_secret"]) == (integration.client_id, SECRET)


@responses.activate
def test_with_pkce_on_a_verifier_is_sent_with_the_invalid_code(logged_in, integration):
    integration.use_pkce = True
    integration.save()
    responses.get(AUTHORIZE, status=200)
    responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    _run(logged_in, integration)
    body = dict(parse_qsl(responses.calls[1].request.body.decode()))
    assert 43 <= len(body["code_verifier"]) <= 128


@responses.activate
def test_an_undecryptable_secret_is_never_sent(logged_in, integration, settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    responses.get(AUTHORIZE, status=200)
    responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    response, messages = _run(logged_in, integration)
    assert len(responses.calls) == 0
    assert "Not tested" in messages
    assert "Enter the client secret again" in response.text
    assert integration.last_test_at is None


@responses.activate
def test_the_list_action_still_finds_an_undecryptable_secret(logged_in, integration, settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    response = logged_in.post(
        reverse(CHANGELIST_URL),
        {"action": "test_connection", "_selected_action": [integration.pk]},
        follow=True,
    )
    assert len(responses.calls) == 0
    integration.refresh_from_db()
    assert integration.last_test_ok is False
    assert "Enter the client secret again" in " ".join(str(m) for m in response.context["messages"])


@responses.activate
def test_the_admin_action_tests_the_selected_integrations(logged_in, integration, account):
    second = OAuthIntegrationFactory(
        account=account,
        display_name="Second",
        authorization_endpoint="https://login.example.com/authorize",
        token_endpoint="https://login.example.com/token",
    )
    responses.get(AUTHORIZE, status=200)
    responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    responses.get("https://login.example.com/authorize", status=200)
    responses.post("https://login.example.com/token", status=401)
    response = logged_in.post(
        reverse(CHANGELIST_URL),
        {"action": "test_connection", "_selected_action": [integration.pk, second.pk]},
        follow=True,
    )
    assert response.status_code == 200
    integration.refresh_from_db()
    second.refresh_from_db()
    assert (integration.last_test_ok, second.last_test_ok) == (True, False)


def test_the_change_page_has_a_button_that_posts_the_form_with_csrf(logged_in, integration):
    html = logged_in.get(change_url(integration)).text
    # The button submits the change form itself (its values and CSRF token) to the test.
    assert f'formaction="{connection_test_url(integration)}"' in html
    assert 'form="oauthintegration_form"' in html and 'id="oauthintegration_form"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "Never tested" in html


# ---------------------------------------------------------------------------- the screen's values
@responses.activate
def test_the_values_on_the_screen_are_tested_and_nothing_is_saved(logged_in, integration):
    responses.get("https://login.example.com/authorize", status=200)
    token = responses.post(
        "https://login.example.com/token", status=400, json={"error": "invalid_grant"}
    )
    before = OAuthIntegration.objects.values().get(pk=integration.pk)
    response, messages = _run(
        logged_in,
        integration,
        authorization_endpoint="https://login.example.com/authorize",
        token_endpoint="https://login.example.com/token",
        client_id="new-client",
        client_secret="a n3w s3cret",
        client_auth_method="client_secret_basic",
    )
    assert token.call_count == 1
    sent = base64.b64decode(
        responses.calls[1].request.headers["Authorization"].removeprefix("Basic ")
    ).decode()
    assert sent == "new-client:a%20n3w%20s3cret"
    assert "Connection test passed" in messages
    assert (
        "Tested the values on this page, which are not saved: authorization endpoint "
        "https://login.example.com/authorize, token endpoint https://login.example.com/token, "
        "client ID new-client, the client secret you typed, client_secret_basic, PKCE off"
    ) in messages
    # Nothing saved, not even the result (it speaks of settings that logins do not use).
    assert OAuthIntegration.objects.values().get(pk=integration.pk) == before
    assert integration.client_secret == SECRET and integration.last_test_at is None
    # The edits are still on the page (but never the typed secret).
    html = response.text
    assert 'value="https://login.example.com/token"' in html and 'value="new-client"' in html
    assert "a n3w s3cret" not in html


@responses.activate
def test_a_blank_secret_on_the_screen_tests_the_stored_one(logged_in, integration):
    responses.get(AUTHORIZE, status=200)
    responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    _, messages = _run(logged_in, integration, client_id="edited-id")
    body = dict(parse_qsl(responses.calls[1].request.body.decode()))
    assert (body["client_id"], body["client_secret"]) == ("edited-id", SECRET)
    assert "edited-id, the stored client secret" in messages
    assert integration.client_id == "campaign-sso-client"


@responses.activate
def test_the_saved_settings_tested_unchanged_record_the_result(logged_in, integration):
    responses.get(AUTHORIZE, status=200)
    responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    _, messages = _run(logged_in, integration)
    assert "Tested the saved settings: authorization endpoint " + AUTHORIZE in messages
    assert integration.last_test_ok is True


@responses.activate
def test_invalid_values_on_the_screen_are_not_tested_and_stay_on_the_page(logged_in, integration):
    response, messages = _run(logged_in, integration, token_endpoint="http://10.0.0.5/token")
    assert not responses.calls
    assert "Not tested: correct the errors below first. Nothing was saved." in messages
    assert response.context["adminform"].form.errors["token_endpoint"]
    assert 'value="http://10.0.0.5/token"' in response.text
    assert integration.token_endpoint == TOKEN


def test_the_change_page_links_the_test_login(logged_in, integration):
    html = logged_in.get(change_url(integration)).text
    test_login = reverse("participants:test_login_start", args=[integration.pk])
    assert f'href="{test_login}"' in html
    assert ">Test login</a>" in html


def test_the_add_page_has_no_test_buttons(logged_in):
    html = logged_in.get(reverse("admin:integrations_oauthintegration_add")).text
    assert "Test login" not in html and "Test connection" not in html


@responses.activate
def test_the_account_sees_who_tested_but_not_the_platform_staffs_usernames(
    client, admin_user_a, integration
):
    staff_user = make_staff(username="ops-jane")
    responses.get(AUTHORIZE, status=200, body="<html>login</html>")
    responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    client.force_login(staff_user)
    _run(client, integration)
    assert integration.last_test_by == staff_user
    client.force_login(admin_user_a)
    page = client.get(change_url(integration)).text
    assert readonly_value(page, "last_test_by") == "Platform staff"
    assert staff_user.get_username() not in page
    client.force_login(staff_user)  # platform staff may see who did it
    page = client.get(change_url(integration)).text
    assert readonly_value(page, "last_test_by") == "ops-jane"

    client.force_login(admin_user_a)
    cache.clear()  # the interval between two tests has passed
    _run(client, integration)  # now the account's own administrator
    page = client.get(change_url(integration)).text
    assert "Platform staff" not in page
    assert readonly_value(page, "last_test_by") == admin_user_a.get_username()


@responses.activate
def test_a_second_test_within_the_interval_is_refused_without_calling_the_idp(
    logged_in, admin_user_a, integration
):
    responses.get(AUTHORIZE, status=200, body="<html>login</html>")
    token = responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    _run(logged_in, integration)
    tested_at = integration.last_test_at

    response, messages = _run(logged_in, integration)

    assert "tested less than 10 seconds ago" in messages
    assert token.call_count == 1
    assert integration.last_test_at == tested_at and integration.last_test_ok is True
    cache.clear()  # the interval has passed
    _, messages = _run(logged_in, integration)
    assert "Connection test passed" in messages and token.call_count == 2


@responses.activate
def test_a_cache_outage_does_not_take_the_button_away(logged_in, integration, settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.SESSION_ENGINE = "config.sessions.db"
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
    responses.get(AUTHORIZE, status=200, body="<html>login</html>")
    token = responses.post(TOKEN, status=400, json={"error": "invalid_grant"})
    _, messages = _run(logged_in, integration)
    assert "Connection test passed" in messages and token.call_count == 1
    assert "not throttled" in caplog.text
