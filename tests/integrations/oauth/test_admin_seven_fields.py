"""The help article's seven fields are enough: discovery on save from the typed endpoints, what a
save that cannot work says, scopes with commas, the participant identifier setting, and what the
discovery import proposes."""

import pytest
import responses
from django.urls import reverse

from integrations.models import OAuthIntegration
from tests.admin_html import readonly_value
from tests.factories import OAuthIntegrationFactory

from .oauth_admin_helpers import ADD_URL, change_url, form_data

pytestmark = pytest.mark.django_db

HOST = "https://login.example.com"
REALM = f"{HOST}/realms/main"
AUTHORIZE = f"{REALM}/protocol/openid-connect/auth"
TOKEN = f"{REALM}/protocol/openid-connect/token"
DOCUMENT = f"{REALM}/.well-known/openid-configuration"
METADATA = {
    "issuer": REALM,
    "authorization_endpoint": AUTHORIZE,
    "token_endpoint": TOKEN,
    "userinfo_endpoint": f"{REALM}/protocol/openid-connect/userinfo",
    "jwks_uri": f"{REALM}/protocol/openid-connect/certs",
    "authorization_response_iss_parameter_supported": True,
    "code_challenge_methods_supported": ["S256"],
    "scopes_supported": ["openid", "email", "phone", "profile"],
}


@pytest.fixture
def logged_in(client, admin_user_a):
    client.force_login(admin_user_a)
    return client


def seven_fields(**overrides) -> dict:
    """What the help article asks for, and nothing in Advanced."""
    fields = {
        "authorization_endpoint": AUTHORIZE,
        "token_endpoint": TOKEN,
        "scope": "openid email profile",
    }
    return form_data(**{**fields, **overrides})


def save(client, data, url=None):
    response = client.post(url or reverse(ADD_URL), data, follow=True)
    assert response.status_code == 200
    form = response.context.get("adminform")
    assert form is None or not form.form.errors, form.form.errors
    return response, " ".join(str(m) for m in response.context["messages"])


def refused(client, data) -> dict:
    response = client.post(reverse(ADD_URL), data)
    assert response.status_code == 200, "the form was expected to be refused"
    assert not OAuthIntegration.objects.exists()
    return response.context["adminform"].form.errors


# ---------------------------------------------------------------------------- discovery on save
@responses.activate
def test_the_seven_fields_find_the_document_under_the_endpoints_path(logged_in):
    # Keycloak: …/realms/main/protocol/openid-connect/auth → …/realms/main/.well-known/…
    responses.get(DOCUMENT, json=METADATA)
    _, messages = save(logged_in, seven_fields())
    integration = OAuthIntegration.objects.get()
    assert integration.issuer == REALM
    assert integration.jwks_uri == METADATA["jwks_uri"]
    assert integration.profile_endpoint == METADATA["userinfo_endpoint"]
    assert integration.iss_parameter_supported is True
    # Its issuer and endpoints are those of the issuer's own document: verified.
    assert integration.issuer_verified
    assert f"Found your IdP's discovery document at {DOCUMENT}" in messages
    fetched = [call.request.url for call in responses.calls]
    assert fetched[-1] == DOCUMENT and len(fetched) <= 6


@responses.activate
def test_an_rfc8414_document_at_the_origin_is_found_too(logged_in):
    document = f"{HOST}/.well-known/oauth-authorization-server"
    issuer = HOST
    authorize, token = f"{HOST}/oauth2/authorize", f"{HOST}/oauth2/token"
    responses.get(
        document,
        json={
            "issuer": issuer,
            "authorization_endpoint": authorize,
            "token_endpoint": token,
            "jwks_uri": f"{HOST}/oauth2/keys",
        },
    )
    save(logged_in, seven_fields(authorization_endpoint=authorize, token_endpoint=token))
    integration = OAuthIntegration.objects.get()
    assert (integration.issuer, integration.jwks_uri) == (issuer, f"{HOST}/oauth2/keys")
    assert integration.issuer_verified


@responses.activate
def test_an_issuer_with_a_trailing_slash_matches_its_document(logged_in):
    """Auth0's issuer ends with "/": its document is still at <host>/.well-known/…"""
    responses.get(
        f"{HOST}/.well-known/openid-configuration",
        json={
            "issuer": f"{HOST}/",
            "authorization_endpoint": f"{HOST}/authorize",
            "token_endpoint": f"{HOST}/oauth/token",
            "jwks_uri": f"{HOST}/.well-known/jwks.json",
        },
    )
    save(
        logged_in,
        seven_fields(
            authorization_endpoint=f"{HOST}/authorize", token_endpoint=f"{HOST}/oauth/token"
        ),
    )
    assert OAuthIntegration.objects.get().issuer == f"{HOST}/"


@responses.activate
@pytest.mark.parametrize(
    ("document", "why"),
    [
        # Another IdP's metadata, served here: the issuer is not the one of this address.
        ({**METADATA, "issuer": "https://accounts.example.org"}, "names the issuer"),
        # The right issuer, but for other endpoints than the ones entered.
        ({**METADATA, "token_endpoint": f"{HOST}/elsewhere/token"}, "not these"),
    ],
)
def test_a_document_that_does_not_vouch_for_the_typed_endpoints_is_not_used(
    logged_in, document, why
):
    responses.get(DOCUMENT, json=document)
    _, messages = save(logged_in, seven_fields())
    integration = OAuthIntegration.objects.get()
    assert (integration.issuer, integration.jwks_uri, integration.profile_endpoint) == ("", "", "")
    assert not integration.issuer_verified
    assert why in messages and "id_token signatures are not checked" in messages


@responses.activate
def test_without_a_document_the_page_says_plainly_that_signatures_are_not_checked(logged_in):
    _, messages = save(logged_in, seven_fields())
    integration = OAuthIntegration.objects.get()
    assert integration.jwks_uri == ""
    assert "No usable discovery document was found" in messages
    assert "id_token signatures are not checked for this integration" in messages
    page = logged_in.get(change_url(integration)).text
    assert "Not checked for this integration." in readonly_value(page, "id_token_signatures")


@responses.activate
def test_a_typed_issuer_that_the_document_contradicts_takes_nothing_from_it(logged_in):
    responses.get(DOCUMENT, json=METADATA)
    _, messages = save(logged_in, seven_fields(issuer="https://other.example.com"))
    integration = OAuthIntegration.objects.get()
    assert integration.jwks_uri == "" and integration.issuer == "https://other.example.com"
    assert "names the issuer “https://login.example.com/realms/main”, not the one entered" in (
        messages
    )


@responses.activate
def test_no_document_is_looked_for_when_the_keys_are_known_or_not_needed(logged_in):
    save(logged_in, seven_fields(jwks_uri=METADATA["jwks_uri"], issuer=REALM))
    save(logged_in, seven_fields(scope="email", profile_endpoint=f"{REALM}/me", display_name="B"))
    assert len(responses.calls) == 0


def test_with_keys_the_page_says_signatures_are_checked(logged_in, account):
    integration = OAuthIntegrationFactory(account=account)
    page = logged_in.get(change_url(integration)).text
    assert "Checked with the keys at https://idp.example.com/jwks" in readonly_value(
        page, "id_token_signatures"
    )


# ---------------------------------------------------------------------------- identifier
@responses.activate
def test_a_save_that_cannot_identify_anyone_says_what_to_add_and_the_page_keeps_saying_it(
    logged_in,
):
    _, messages = save(logged_in, seven_fields(scope="email profile"))
    assert "No participant can be identified" in messages
    assert "Add openid to the token scope, add a profile endpoint" in messages
    integration = OAuthIntegration.objects.get()
    page = logged_in.get(change_url(integration))
    assert "No participant can be identified" in readonly_value(page.text, "identifier_status")
    assert any("No participant can be identified" in str(m) for m in page.context["messages"])


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"scope": "email", "identifier_source": "id_token"}, "Add openid to the token scope"),
        ({"identifier_source": "userinfo"}, "no profile endpoint is set"),
        ({"identifier_source": "access_token"}, "set the issuer and the JWKS URI"),
    ],
)
@responses.activate
def test_each_identifier_source_without_what_it_reads_is_warned(logged_in, overrides, words):
    _, messages = save(logged_in, seven_fields(**overrides))
    assert words in messages


def test_an_identifier_in_the_token_answer_is_saved_and_shown(logged_in):
    save(
        logged_in,
        seven_fields(scope="read", identifier_source="token", identifier_field=" athlete.id "),
    )
    integration = OAuthIntegration.objects.get()
    assert (integration.identifier_source, integration.identifier_field) == ("token", "athlete.id")
    page = logged_in.get(change_url(integration)).text
    assert "“athlete.id” of the token endpoint&#x27;s answer" in readonly_value(
        page, "identifier_status"
    )


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"identifier_source": "token"}, "Enter where the identifier sits"),
        ({"identifier_source": "token", "identifier_field": "access_token"}, "is a token itself"),
        ({"identifier_source": "token", "identifier_field": "athlete..id"}, "empty segment"),
        ({"identifier_source": "auto", "identifier_field": "user_id"}, "leave this empty"),
        ({"identifier_source": "email"}, "Select a valid choice"),
    ],
)
def test_a_bad_identifier_setting_is_a_clear_error_and_nothing_is_saved(
    logged_in, overrides, words
):
    errors = refused(logged_in, seven_fields(scope="read", **overrides))
    assert words in " ".join(
        errors.get("identifier_field", []) + errors.get("identifier_source", [])
    )


# ---------------------------------------------------------------------------- scopes
@pytest.mark.parametrize(
    ("typed", "saved", "words"),
    [
        ("openid,email,profile", "openid email profile", "separated by spaces"),
        ("openid, email", "openid email", "separated by spaces"),
        ("email,profile phone", "email profile phone", "separated by spaces"),
        ("read,activity:read", "read,activity:read", "sent as one comma-separated value"),
    ],
)
@responses.activate
def test_comma_separated_scopes_are_normalised_or_kept_and_said(logged_in, typed, saved, words):
    _, messages = save(logged_in, seven_fields(scope=typed, profile_endpoint=f"{REALM}/me"))
    integration = OAuthIntegration.objects.get()
    assert integration.scope == saved
    assert words in messages


# ---------------------------------------------------------------------------- discovery import
@responses.activate
def test_the_discovery_import_proposes_a_scope_and_turns_pkce_on(logged_in):
    responses.get(DOCUMENT, json=METADATA)
    _, messages = save(
        logged_in,
        form_data(discovery_url=REALM, authorization_endpoint="", token_endpoint="", scope=""),
    )
    integration = OAuthIntegration.objects.get()
    assert integration.scope == "openid profile email"
    assert integration.use_pkce is True
    assert "Token scope proposed" in messages and "PKCE turned on" in messages


@responses.activate
def test_the_discovery_import_keeps_a_typed_scope_and_pkce_without_s256(logged_in):
    responses.get(DOCUMENT, json={**METADATA, "code_challenge_methods_supported": ["plain"]})
    save(
        logged_in,
        form_data(
            discovery_url=REALM, authorization_endpoint="", token_endpoint="", scope="openid"
        ),
    )
    integration = OAuthIntegration.objects.get()
    assert (integration.scope, integration.use_pkce) == ("openid", False)


@responses.activate
def test_keys_for_a_jwt_access_token_are_found_without_taking_userinfo(logged_in):
    """Userinfo answers only openid tokens: a plain OAuth 2.0 scope does not get it."""
    responses.get(DOCUMENT, json=METADATA)
    save(logged_in, seven_fields(scope="profile", identifier_source="access_token"))
    integration = OAuthIntegration.objects.get()
    assert (integration.issuer, integration.jwks_uri) == (REALM, METADATA["jwks_uri"])
    assert integration.profile_endpoint == ""
