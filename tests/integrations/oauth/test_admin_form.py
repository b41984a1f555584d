"""The OAuth 2.0 integration form: fields, secrets at rest, validation, discovery, history."""

import pytest
import responses
from cryptography.fernet import Fernet
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.urls import reverse

from integrations.fields import encrypt
from integrations.models import OAuthIntegration
from tests.factories import OAuthIntegrationFactory

from .oauth_admin_helpers import ADD_URL, DISCOVERY_URL, METADATA, SECRET, change_url, form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, admin_user_a):
    client.force_login(admin_user_a)
    return client


@pytest.fixture
def integration_a(account):
    integration = OAuthIntegrationFactory(account=account, client_secret="0ld-s3cret")
    integration.refresh_from_db()
    return integration


def _raw_secret(integration) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT client_secret FROM integrations_oauthintegration WHERE id = %s",
            [integration.pk],
        )
        return cursor.fetchone()[0]


def _errors(response) -> dict:
    assert response.status_code == 200, "the form was expected to be refused"
    return response.context["adminform"].form.errors


# ---------------------------------------------------------------------------- the page
def test_add_page_has_the_fieldsets_callback_url_and_copy_button(logged_in):
    response = logged_in.get(reverse(ADD_URL))
    assert response.status_code == 200
    html = response.text
    for heading in ["Identity provider", "Client credentials", "Options", "Advanced"]:
        assert f">{heading}<" in html
    # The URL the new integration will have, shown before it is saved: the IdP may ask for it
    # before it hands out the client ID.
    form = response.context["adminform"].form
    key = form.instance.callback_key
    assert (
        f'<code id="oauth-callback-url">https://sso.example.test/oauth/callback/{key}</code>'
        in (html)
    )
    assert 'data-copy-target="oauth-callback-url"' in html
    assert "integrations/copy_to_clipboard.js" in html
    assert 'name="client_secret"' in html and 'type="password"' in html
    form = response.context["adminform"].form
    assert form.fields["client_secret"].required
    assert form.fields["use_pkce"].initial is False
    assert form.fields["client_auth_method"].initial == "client_secret_post"


def test_add_page_uses_no_inline_script(logged_in):
    html = logged_in.get(reverse(ADD_URL)).text
    # Every <script> is a file from our own origin (CSP script-src 'self').
    assert "<script>" not in html
    assert "onclick=" not in html


def test_change_page_never_shows_the_secret_or_its_ciphertext(logged_in, integration_a):
    html = logged_in.get(change_url(integration_a)).text
    assert "0ld-s3cret" not in html
    assert "gAAAAA" not in html
    assert "A secret is stored" in html


# ---------------------------------------------------------------------------- saving
def test_an_administrator_fills_and_saves_the_form(logged_in, account):
    response = logged_in.post(
        reverse(ADD_URL),
        form_data(use_pkce="on", client_auth_method="client_secret_basic", scope=" openid  email "),
    )
    assert response.status_code == 302, _errors(response)
    integration = OAuthIntegration.objects.get()
    assert integration.account == account
    assert integration.client_secret == SECRET
    assert integration.use_pkce is True
    assert integration.client_auth_method == "client_secret_basic"
    assert integration.scope == "openid email"
    assert (integration.connect_timeout, integration.read_timeout) == (5.0, 10.0)


def test_the_database_column_holds_ciphertext(logged_in):
    logged_in.post(reverse(ADD_URL), form_data())
    integration = OAuthIntegration.objects.get()
    raw = _raw_secret(integration)
    assert raw.startswith("gAAAAA")
    assert SECRET not in raw
    assert Fernet(integration_key()).decrypt(raw.encode()).decode() == SECRET


def integration_key() -> bytes:
    from django.conf import settings

    return settings.FIELD_ENCRYPTION_KEY[0].encode()


def test_secret_is_required_on_add(logged_in):
    errors = _errors(logged_in.post(reverse(ADD_URL), form_data(client_secret="")))
    assert "client_secret" in errors
    assert not OAuthIntegration.objects.exists()


def test_blank_secret_on_edit_keeps_the_stored_one(logged_in, integration_a):
    response = logged_in.post(
        change_url(integration_a), form_data(client_secret="", display_name="Renamed")
    )
    assert response.status_code == 302, _errors(response)
    integration_a.refresh_from_db()
    assert integration_a.client_secret == "0ld-s3cret"
    assert integration_a.display_name == "Renamed"


def test_a_new_secret_replaces_the_stored_one(logged_in, integration_a):
    response = logged_in.post(change_url(integration_a), form_data(client_secret="br4nd-new"))
    assert response.status_code == 302, _errors(response)
    integration_a.refresh_from_db()
    assert integration_a.client_secret == "br4nd-new"


def test_a_pasted_fernet_token_is_stored_literally_not_decrypted(logged_in):
    token = encrypt("what-the-token-hides")
    response = logged_in.post(reverse(ADD_URL), form_data(client_secret=token))
    assert response.status_code == 302, _errors(response)
    assert OAuthIntegration.objects.get().client_secret == token


def test_a_refused_form_does_not_render_the_typed_secret_back(logged_in):
    response = logged_in.post(reverse(ADD_URL), form_data(token_endpoint="http://x"))
    assert response.status_code == 200
    assert SECRET not in response.text


def test_the_views_mark_the_secret_as_sensitive(logged_in, integration_a):
    for url in (reverse(ADD_URL), change_url(integration_a)):
        response = logged_in.post(url, form_data(display_name=""))
        assert response.wsgi_request.sensitive_post_parameters == ("client_secret",)


def test_the_history_names_changed_fields_but_never_the_secret(logged_in, integration_a):
    logged_in.post(change_url(integration_a), form_data(client_secret="br4nd-new", scope="openid"))
    entry = LogEntry.objects.get(object_id=str(integration_a.pk))
    message = entry.get_change_message()
    assert "Client secret" in message and "Token scope" in message
    assert "br4nd-new" not in entry.change_message and "0ld-s3cret" not in entry.change_message
    history = logged_in.get(
        reverse("admin:integrations_oauthintegration_history", args=[integration_a.pk])
    )
    assert "br4nd-new" not in history.text and "gAAAAA" not in history.text


def test_keeping_the_secret_is_not_recorded_as_a_change(logged_in, integration_a):
    logged_in.post(change_url(integration_a), form_data(client_secret="", scope="openid"))
    message = LogEntry.objects.get(object_id=str(integration_a.pk)).get_change_message()
    assert "Client secret" not in message


def test_repr_and_str_never_contain_the_secret(integration_a):
    assert "0ld-s3cret" not in repr(integration_a)
    assert "0ld-s3cret" not in str(integration_a)


# ---------------------------------------------------------------------------- validation
INVALID = [
    ("authorization_endpoint", "http://idp.example.com/authorize", "https://"),
    ("authorization_endpoint", "idp.example.com/authorize", "https://"),
    ("authorization_endpoint", "https://user:pw@idp.example.com/authorize", "user name"),
    ("authorization_endpoint", "https://idp.example.com/authorize#top", "fragment"),
    ("authorization_endpoint", "https://10.0.0.5/authorize", "not public"),
    ("authorization_endpoint", "https://idp.example.com/authorize?client_id=x", "client_id"),
    ("authorization_endpoint", "https://idp.example.com/a?state=1&scope=2", "scope, state"),
    ("authorization_endpoint", "", "required"),
    ("token_endpoint", "ftp://idp.example.com/token", "https://"),
    ("token_endpoint", "https://169.254.169.254/latest/meta-data/", "not public"),
    ("token_endpoint", "https://sso.internal/token", "Internal host"),
    ("token_endpoint", "https://unknown-host.invalid/token", "could not be resolved"),
    ("token_endpoint", "", "required"),
    ("profile_endpoint", "http://idp.example.com/userinfo", "https://"),
    ("jwks_uri", "https://idp.example.com/keys#k", "fragment"),
    ("issuer", "http://idp.example.com", "https://"),
    ("issuer", "https://idp.example.com/?tenant=1", "query"),
    ("scope", 'openid "email"', "not a valid scope"),
    ("scope", "openid profile\\x", "not a valid scope"),
    ("scope", "openid é", "not a valid scope"),
    ("scope", "openid\temail", "not a valid scope"),
    ("client_id", "campaign\nsso", "control characters"),
    ("client_id", "", "required"),
    ("client_secret", "se\ncret", "control characters"),
    ("client_secret", "se\x7fcret", "control characters"),
    ("client_auth_method", "client_secret_jwt", "valid choice"),
    ("display_name", "", "required"),
    ("connect_timeout", "0", "greater than or equal to 1"),
    ("connect_timeout", "31", "less than or equal to 30"),
    ("read_timeout", "0.5", "greater than or equal to 1"),
    ("read_timeout", "soon", "number"),
]


@pytest.mark.parametrize(("field", "value", "words"), INVALID)
def test_invalid_values_are_clear_field_errors(logged_in, field, value, words):
    errors = _errors(logged_in.post(reverse(ADD_URL), form_data(**{field: value})))
    assert field in errors, errors
    assert words in " ".join(errors[field]), errors[field]
    assert not OAuthIntegration.objects.exists()


def test_plain_http_only_for_loopback_and_only_with_the_setting(logged_in, settings):
    loopback = {
        "authorization_endpoint": "http://127.0.0.1:9000/authorize",
        "token_endpoint": "http://localhost:9000/token",
    }
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    errors = _errors(logged_in.post(reverse(ADD_URL), form_data(**loopback)))
    assert set(errors) == {"authorization_endpoint", "token_endpoint"}
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    response = logged_in.post(reverse(ADD_URL), form_data(**loopback))
    assert response.status_code == 302
    assert OAuthIntegration.objects.get().token_endpoint == "http://localhost:9000/token"


def test_valid_scopes_and_endpoint_query_parameters_are_accepted(logged_in):
    response = logged_in.post(
        reverse(ADD_URL),
        form_data(
            scope="openid https://graph.example.com/User.Read offline_access a!#$[]^~",
            authorization_endpoint="https://idp.example.com/authorize?p=B2C_1_signin",
        ),
    )
    assert response.status_code == 302, _errors(response)


# ---------------------------------------------------------------------------- discovery
@responses.activate
def test_discovery_fills_the_empty_fields(logged_in):
    responses.get(DISCOVERY_URL, json=METADATA)
    response = logged_in.post(
        reverse(ADD_URL),
        form_data(
            discovery_url="https://idp.example.com",
            authorization_endpoint="",
            token_endpoint="",
            client_auth_method="client_secret_basic",
        ),
    )
    assert response.status_code == 302, _errors(response)
    integration = OAuthIntegration.objects.get()
    assert integration.authorization_endpoint == METADATA["authorization_endpoint"]
    assert integration.token_endpoint == METADATA["token_endpoint"]
    assert integration.profile_endpoint == METADATA["userinfo_endpoint"]
    assert integration.jwks_uri == METADATA["jwks_uri"]
    assert integration.issuer == "https://idp.example.com"
    assert integration.iss_parameter_supported is True
    assert integration.token_endpoint_auth_methods_supported == [
        "client_secret_basic",
        "client_secret_post",
    ]
    assert [call.request.url for call in responses.calls] == [DISCOVERY_URL]


@responses.activate
def test_discovery_keeps_what_the_administrator_typed(logged_in):
    responses.get(DISCOVERY_URL, json=METADATA)
    response = logged_in.post(
        reverse(ADD_URL),
        form_data(discovery_url=DISCOVERY_URL, authorization_endpoint="", token_endpoint=""),
    )
    assert response.status_code == 302, _errors(response)
    integration = OAuthIntegration.objects.get()
    assert integration.authorization_endpoint == METADATA["authorization_endpoint"]
    # form_data() types the token endpoint only when asked; here a typed one must win:
    responses.get(DISCOVERY_URL, json=METADATA)
    response = logged_in.post(
        change_url(integration),
        form_data(
            discovery_url=DISCOVERY_URL,
            authorization_endpoint=METADATA["authorization_endpoint"],
            token_endpoint="https://idp.example.com/custom/token",
            client_secret="",
        ),
    )
    assert response.status_code == 302, _errors(response)
    integration.refresh_from_db()
    assert integration.token_endpoint == "https://idp.example.com/custom/token"


@responses.activate
def test_discovery_warns_when_the_chosen_method_is_not_supported(logged_in):
    responses.get(
        DISCOVERY_URL,
        json={**METADATA, "token_endpoint_auth_methods_supported": ["client_secret_basic"]},
    )
    response = logged_in.post(
        reverse(ADD_URL),
        form_data(discovery_url=DISCOVERY_URL, authorization_endpoint="", token_endpoint=""),
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("may be refused" in m for m in messages), messages


DISCOVERY_FAILURES = [
    ({"status": 404, "body": "not found"}, "HTTP 404"),
    ({"status": 200, "body": "<html>Welcome</html>"}, "did not return JSON"),
    ({"status": 200, "body": "{not json"}, "did not return JSON"),
    ({"status": 200, "json": {**METADATA, "issuer": "https://evil.example.com"}}, "another issuer"),
    (
        {"status": 200, "json": {**METADATA, "token_endpoint": "http://idp.example.com/t"}},
        "token_endpoint is not allowed",
    ),
]


@responses.activate
@pytest.mark.parametrize(("answer", "words"), DISCOVERY_FAILURES)
def test_discovery_failures_are_field_errors_and_nothing_is_saved(logged_in, answer, words):
    responses.get(DISCOVERY_URL, **answer)
    errors = _errors(
        logged_in.post(
            reverse(ADD_URL),
            form_data(
                discovery_url="https://idp.example.com",
                authorization_endpoint="",
                token_endpoint="",
            ),
        )
    )
    assert words in " ".join(errors["discovery_url"]), errors
    assert not OAuthIntegration.objects.exists()


def test_saving_the_model_makes_no_network_call(account):
    # Model.save() must never fetch anything; the network boundary would refuse it anyway.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        OAuthIntegrationFactory(account=account)
        assert len(mock.calls) == 0


# ---------------------------------------------------------------------------- undecryptable
@pytest.fixture
def undecryptable(integration_a, settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    integration_a.refresh_from_db()
    return integration_a


def test_an_undecryptable_secret_is_a_clear_configuration_error(logged_in, undecryptable):
    response = logged_in.get(change_url(undecryptable))
    assert response.status_code == 200
    assert "Configuration error" in response.text
    assert "re-enter the client secret" in response.text
    assert "gAAAAA" not in response.text


def test_saving_with_an_undecryptable_secret_requires_a_new_one(logged_in, undecryptable):
    errors = _errors(logged_in.post(change_url(undecryptable), form_data(client_secret="")))
    assert "Enter the client secret again" in " ".join(errors["client_secret"])
    response = logged_in.post(change_url(undecryptable), form_data(client_secret="fr3sh"))
    assert response.status_code == 302
    undecryptable.refresh_from_db()
    assert undecryptable.client_secret == "fr3sh"


def test_error_reports_of_the_admin_views_mask_the_secret(logged_in, integration_a):
    from django.views.debug import SafeExceptionReporterFilter

    response = logged_in.post(change_url(integration_a), form_data(display_name=""))
    shown = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert shown["client_secret"] == "********************"
    assert shown["display_name"] == ""


def test_timeouts_read_in_whole_seconds_with_their_unit(logged_in, integration_a):
    page = logged_in.get(change_url(integration_a)).text
    assert 'name="connect_timeout" value="5"' in page
    assert 'name="read_timeout" value="10"' in page
    assert "Connect timeout (seconds)" in page
