"""Consent, redirect URI matching and the profile claims of the demo participants."""

import jwt
import pytest
import requests

from integrations.variables import STANDARD_VARIABLES
from tests.devidp.flows import (
    TIMEOUT,
    authorization_url,
    callback_params,
    token_request,
    userinfo,
)
from tests.devidp_server import DevIdPError

pytestmark = pytest.mark.e2e

REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"
CLIENT = ("claims-client", "claims-secret")
LOYALTY_ID = "https://example.com/claims/loyalty_id"

# Where each standard variable of the product's catalogue is found in the IdP's claims.
VARIABLE_CLAIMS = {
    "firstname": ("given_name",),
    "lastname": ("family_name",),
    "email": ("email",),
    "gender": ("gender",),
    "birthdate": ("birthdate",),
    "phone": ("phone_number",),
    "street": ("address", "street_address"),
    "zipcode": ("address", "postal_code"),
    "city": ("address", "locality"),
    "country": ("address", "country"),
    "language": ("locale",),
    "optin_newsletter": ("optin_newsletter",),
    "optin_partners": ("optin_partners",),
}


@pytest.fixture(scope="module")
def client(devidp):
    devidp.add_client(*CLIENT, REDIRECT_URI, pkce_required=False)
    return CLIENT


def log_in(devidp, username, scope="openid profile email address phone campaign"):
    """The token response and the userinfo claims for a participant who consented."""
    location = devidp.login_and_authorize(
        authorization_url(devidp, CLIENT[0], REDIRECT_URI, scope=scope),
        username,
        devidp.password,
    )
    tokens = token_request(
        devidp,
        code=callback_params(location)["code"],
        redirect_uri=REDIRECT_URI,
        client_id=CLIENT[0],
        client_secret=CLIENT[1],
    ).json()
    return tokens, userinfo(devidp, tokens["access_token"])


def claim(claims, path):
    for name in path:
        claims = claims.get(name) if isinstance(claims, dict) else None
    return claims


# ---------------------------------------------------------------------------- consent
def test_cancel_at_consent_redirects_access_denied_with_the_state(devidp, client):
    url = authorization_url(devidp, CLIENT[0], REDIRECT_URI, state="the-state")

    location = devidp.login_and_authorize(url, "alice", devidp.password, allow=False)

    assert location.startswith(REDIRECT_URI + "?")
    params = callback_params(location)
    assert params["error"] == "access_denied"
    assert params["state"] == "the-state"
    assert params["iss"] == devidp.issuer
    assert "code" not in params


def test_consent_page_names_the_client_and_offers_allow_and_cancel(devidp, client):
    session = requests.Session()
    url = authorization_url(devidp, CLIENT[0], REDIRECT_URI)
    login_page = session.get(url, timeout=TIMEOUT)
    session.post(
        login_page.url,
        data={
            "csrfmiddlewaretoken": session.cookies["devidp_csrftoken"],
            "username": "bob",
            "password": devidp.password,
            "next": url.removeprefix(devidp.base_url),
        },
        timeout=TIMEOUT,
    )

    consent = session.get(url, timeout=TIMEOUT)

    assert consent.status_code == 200
    assert f"Share your profile with {CLIENT[0]}?" in consent.text
    assert '<button type="submit" class="primary" name="allow"' in consent.text
    assert 'name="cancel"' in consent.text
    assert "Your postal address" in consent.text


def test_wrong_password_stays_on_the_login_page(devidp, client):
    url = authorization_url(devidp, CLIENT[0], REDIRECT_URI)

    with pytest.raises(DevIdPError, match="login as 'alice' failed") as error:
        devidp.login_and_authorize(url, "alice", "not-the-password")

    assert "Wrong username or password" in error.value.response.text


# ---------------------------------------------------------------------------- redirect URIs
@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8000/oauth/callback/",
        "http://127.0.0.1:8000/oauth/callback?next=/",
        "http://127.0.0.1:8001/oauth/callback",
        "https://127.0.0.1:8000/oauth/callback",
        "http://attacker.example.com/oauth/callback",
    ],
)
def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(devidp, client, redirect_uri):
    url = authorization_url(devidp, CLIENT[0], redirect_uri)

    with pytest.raises(DevIdPError, match="error page") as error:
        devidp.login_and_authorize(url, "alice", devidp.password)

    assert error.value.response.status_code == 400
    assert "Location" not in error.value.response.headers


def test_token_request_with_another_redirect_uri_is_invalid_grant(devidp, client):
    location = devidp.login_and_authorize(
        authorization_url(devidp, CLIENT[0], REDIRECT_URI), "alice", devidp.password
    )

    response = token_request(
        devidp,
        code=callback_params(location)["code"],
        redirect_uri=REDIRECT_URI + "/",
        client_id=CLIENT[0],
        client_secret=CLIENT[1],
    )

    assert response.status_code == 400
    # RFC 6749 §5.2 says invalid_grant; oauthlib answers invalid_request ("Mismatching
    # redirect URI."). Clients must treat both as a failed exchange.
    assert response.json()["error"] == "invalid_request"


# ---------------------------------------------------------------------------- claims
def test_userinfo_has_the_rich_claims_and_the_id_token_sub(devidp, client):
    tokens, response = log_in(devidp, "alice")

    assert response.status_code == 200
    claims = response.json()

    id_token = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["sub"] == id_token["sub"] == devidp.participants["alice"]["subject"]
    assert claims == {
        "sub": "6f1c2a0e-5d1b-4c39-9a43-1f0a5b7e2c01",
        "preferred_username": "alice",
        "given_name": "Alice",
        "family_name": "Martin",
        "name": "Alice Martin",
        "email": "alice.martin@example.com",
        "email_verified": True,
        "gender": "female",
        "birthdate": "1990-04-12",
        "locale": "fr-BE",
        "phone_number": "+32 470 12 34 56",
        "address": {
            "street_address": "Rue de la Loi 16",
            "locality": "Bruxelles",
            "postal_code": "1000",
            "country": "BE",
        },
        "optin_newsletter": "true",
        "optin_partners": True,
        LOYALTY_ID: "LOY-100234",
    }
    assert {name: id_token[name] for name in claims} == claims


def test_claims_follow_the_granted_scopes(devidp, client):
    tokens, response = log_in(devidp, "alice", scope="openid email")

    claims = response.json()
    assert set(claims) == {"sub", "email", "email_verified"}

    id_token = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert "address" not in id_token and "given_name" not in id_token


def test_scope_without_openid_gives_no_id_token_and_no_userinfo(devidp, client):
    tokens, response = log_in(devidp, "alice", scope="profile email")

    assert "access_token" in tokens
    assert "id_token" not in tokens
    assert response.status_code == 401


def test_missing_values_are_left_out_not_sent_empty(devidp, client):
    _, response = log_in(devidp, "bob")

    claims = response.json()
    assert "phone_number" not in claims
    assert "birthdate" not in claims
    assert claims["optin_newsletter"] == "true"
    assert claims["optin_partners"] is False


def test_chloe_has_opted_out_and_names_her_country(devidp, client):
    _, response = log_in(devidp, "chloe")

    claims = response.json()
    assert claims["optin_newsletter"] == "false"
    assert claims["optin_partners"] is False
    assert claims["address"]["country"] == "France"
    assert claims["family_name"] == "Dubois-Lefèvre"
    assert LOYALTY_ID not in claims


def test_demo_participants_together_cover_every_standard_variable(devidp, client):
    assert set(VARIABLE_CLAIMS) == set(STANDARD_VARIABLES)
    covered = set()
    for username in devidp.usernames:
        claims = log_in(devidp, username)[1].json()
        covered |= {
            variable
            for variable, path in VARIABLE_CLAIMS.items()
            if claim(claims, path) not in (None, "")
        }

    assert covered == set(STANDARD_VARIABLES)
