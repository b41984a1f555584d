"""The development IdP, driven like a relying party would: discovery, code flow, tokens, claims."""

import base64
import time

import jwt
import pytest
import requests

from tests.devidp.flows import (
    TIMEOUT,
    authorization_url,
    callback_params,
    pkce_pair,
    token_request,
)

pytestmark = pytest.mark.e2e

REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"
PLAIN_CLIENT = ("flow-client", "flow-secret")
# Every character RFC 6749 §2.3.1's form-urlencoding changes, and a space.
WEIRD_CLIENT = ("weird-client", "se:cr+et/with=odd%41 chars")
# The same in the client id too, plus non-ASCII (UTF-8 before form-urlencoding).
STRANGE_ID_CLIENT = ("id:with+odd/chars=%41 é", "sécret:+/=%41 ü")
PKCE_CLIENT = ("strict-client", "strict-secret")
LOYALTY_ID = "https://example.com/claims/loyalty_id"


@pytest.fixture(scope="module")
def clients(devidp):
    devidp.add_client(*PLAIN_CLIENT, REDIRECT_URI, pkce_required=False)
    devidp.add_client(*WEIRD_CLIENT, REDIRECT_URI, pkce_required=False)
    devidp.add_client(*STRANGE_ID_CLIENT, REDIRECT_URI, pkce_required=False)
    devidp.add_client(*PKCE_CLIENT, REDIRECT_URI, pkce_required=True)


@pytest.fixture(scope="module")
def jwks(devidp):
    return jwt.PyJWKSet.from_dict(requests.get(devidp.jwks_url, timeout=TIMEOUT).json())


def authorize(devidp, client_id, username="alice", **params):
    """Log in and consent; returns the callback parameters and the state and nonce sent."""
    url = authorization_url(devidp, client_id, REDIRECT_URI, **params)
    sent = callback_params(url)
    params = callback_params(devidp.login_and_authorize(url, username, devidp.password))
    return params, sent


def verify_id_token(devidp, jwks, id_token, *, audience):
    header = jwt.get_unverified_header(id_token)
    assert header["alg"] == "RS256"
    return jwt.decode(
        id_token,
        key=jwks[header["kid"]].key,
        algorithms=["RS256"],
        audience=audience,
        issuer=devidp.issuer,
        options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]},
    )


# ---------------------------------------------------------------------------- discovery
def test_discovery_issuer_and_endpoints_match_the_fixture(devidp):
    discovery = requests.get(devidp.discovery_url, timeout=TIMEOUT).json()

    assert discovery["issuer"] == devidp.issuer
    assert discovery["authorization_endpoint"] == devidp.authorize_url
    assert discovery["token_endpoint"] == devidp.token_url
    assert discovery["userinfo_endpoint"] == devidp.userinfo_url
    assert discovery["jwks_uri"] == devidp.jwks_url
    assert set(discovery["scopes_supported"]) >= {
        "openid",
        "profile",
        "email",
        "address",
        "phone",
        "campaign",
    }
    assert set(discovery["token_endpoint_auth_methods_supported"]) == {
        "client_secret_post",
        "client_secret_basic",
    }
    assert discovery["code_challenge_methods_supported"] == ["S256"]
    assert "RS256" in discovery["id_token_signing_alg_values_supported"]
    assert set(discovery["claims_supported"]) == {
        "sub",
        "preferred_username",
        "given_name",
        "family_name",
        "name",
        "gender",
        "birthdate",
        "locale",
        "email",
        "email_verified",
        "address",
        "phone_number",
        "optin_newsletter",
        "optin_partners",
        LOYALTY_ID,
    }


def test_jwks_publishes_an_rs256_signing_key_without_private_parts(devidp):
    keys = requests.get(devidp.jwks_url, timeout=TIMEOUT).json()["keys"]

    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig"
    assert keys[0]["kid"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])


# ---------------------------------------------------------------------------- code flow
def test_code_flow_with_client_secret_post_gives_a_verified_id_token(devidp, clients, jwks):
    params, sent = authorize(devidp, PLAIN_CLIENT[0])

    assert params["state"] == sent["state"]
    assert params["iss"] == devidp.issuer  # RFC 9207
    response = token_request(
        devidp,
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        client_id=PLAIN_CLIENT[0],
        client_secret=PLAIN_CLIENT[1],
    )

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    claims = verify_id_token(devidp, jwks, tokens["id_token"], audience=PLAIN_CLIENT[0])
    assert claims["nonce"] == sent["nonce"]
    assert claims["exp"] > time.time()
    assert claims["sub"] == devidp.participants["alice"]["subject"]


@pytest.mark.parametrize("auth", ["basic", "post"])
@pytest.mark.parametrize("credentials", [WEIRD_CLIENT, STRANGE_ID_CLIENT], ids=["secret", "id"])
def test_odd_characters_in_client_credentials_round_trip(devidp, clients, credentials, auth):
    client_id, client_secret = credentials
    params, _ = authorize(devidp, client_id)

    response = token_request(
        devidp,
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        client_id=client_id,
        client_secret=client_secret,
        auth=auth,
    )

    assert response.status_code == 200, response.text
    assert "id_token" in response.json()


def test_client_secret_basic_without_form_urlencoding_is_invalid_client(devidp, clients):
    params, _ = authorize(devidp, WEIRD_CLIENT[0])
    raw = f"{WEIRD_CLIENT[0]}:{WEIRD_CLIENT[1]}".encode()

    response = requests.post(
        devidp.token_url,
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
        },
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
        timeout=TIMEOUT,
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_wrong_client_secret_is_invalid_client(devidp, clients):
    params, _ = authorize(devidp, PLAIN_CLIENT[0])

    response = token_request(
        devidp,
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        client_id=PLAIN_CLIENT[0],
        client_secret="not-the-secret",
        auth="basic",
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_authorization_code_is_single_use(devidp, clients):
    params, _ = authorize(devidp, PLAIN_CLIENT[0])
    exchange = dict(
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        client_id=PLAIN_CLIENT[0],
        client_secret=PLAIN_CLIENT[1],
    )

    assert token_request(devidp, **exchange).status_code == 200
    second = token_request(devidp, **exchange)

    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"


# ---------------------------------------------------------------------------- PKCE
def test_pkce_client_with_the_right_verifier_gets_tokens(devidp, clients):
    verifier, challenge = pkce_pair()
    params, _ = authorize(
        devidp, PKCE_CLIENT[0], code_challenge=challenge, code_challenge_method="S256"
    )

    response = token_request(
        devidp,
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        client_id=PKCE_CLIENT[0],
        client_secret=PKCE_CLIENT[1],
        code_verifier=verifier,
    )

    assert response.status_code == 200, response.text


def test_pkce_client_with_a_wrong_verifier_is_invalid_grant(devidp, clients):
    _, challenge = pkce_pair()
    params, _ = authorize(
        devidp, PKCE_CLIENT[0], code_challenge=challenge, code_challenge_method="S256"
    )

    response = token_request(
        devidp,
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        client_id=PKCE_CLIENT[0],
        client_secret=PKCE_CLIENT[1],
        code_verifier=pkce_pair()[0],
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_pkce_client_without_a_verifier_is_refused(devidp, clients):
    _, challenge = pkce_pair()
    params, _ = authorize(
        devidp, PKCE_CLIENT[0], code_challenge=challenge, code_challenge_method="S256"
    )

    response = token_request(
        devidp,
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        client_id=PKCE_CLIENT[0],
        client_secret=PKCE_CLIENT[1],
    )

    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}


def test_pkce_client_without_a_challenge_gets_an_error_at_its_callback(devidp, clients):
    params, sent = authorize(devidp, PKCE_CLIENT[0])

    assert "code" not in params
    assert params["error"] == "invalid_request"
    assert params["state"] == sent["state"]
    assert params["iss"] == devidp.issuer


def test_plain_pkce_method_is_refused(devidp, clients):
    verifier, _ = pkce_pair()
    params, _ = authorize(
        devidp, PKCE_CLIENT[0], code_challenge=verifier, code_challenge_method="plain"
    )

    assert "code" not in params
    assert params["error"] == "invalid_request"


def test_optional_pkce_client_still_verifies_a_challenge_it_sent(devidp, clients):
    _, challenge = pkce_pair()
    params, _ = authorize(
        devidp, PLAIN_CLIENT[0], code_challenge=challenge, code_challenge_method="S256"
    )

    response = token_request(
        devidp,
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        client_id=PLAIN_CLIENT[0],
        client_secret=PLAIN_CLIENT[1],
        code_verifier=pkce_pair()[0],
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_pkce_client_id_prefix_requires_pkce_without_the_flag(devidp):
    devidp.add_client("pkce-by-prefix", "prefix-secret", REDIRECT_URI, pkce_required=False)

    params, _ = authorize(devidp, "pkce-by-prefix")

    assert params["error"] == "invalid_request"
