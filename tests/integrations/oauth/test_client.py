"""The HTTP-only OAuth 2.0 client: authorization URL, token request, profile, probes."""

import base64
import json
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, unquote, unquote_plus, urlsplit

import pytest
import requests
import responses
from cryptography.fernet import Fernet

from integrations.models import IntegrationConfigurationError
from integrations.oauth.client import (
    ClientConfig,
    OAuthError,
    authorization_url,
    exchange_code,
    fetch_profile,
    pkce_challenge,
    pkce_pair,
)
from integrations.oauth.diagnostics import authorization_endpoint_probe, token_endpoint_probe
from tests.core.deep_json import TOO_DEEP
from tests.factories import OAuthIntegrationFactory

TOKEN_URL = "https://idp.example.com/token"
AUTHORIZE_URL = "https://idp.example.com/authorize"
USERINFO_URL = "https://idp.example.com/userinfo"
REDIRECT_URI = "https://sso.example.test/oauth/callback"
SECRET = "s3:c+r/e=t% é€ ü"
PROFILES = Path(__file__).resolve().parents[2] / "fixtures" / "idp-profiles"
TOKEN_OK = {"access_token": "at-123", "token_type": "Bearer", "expires_in": 3600}


def _config(**overrides) -> ClientConfig:
    values = {
        "client_id": "campaign-sso",
        "client_secret": SECRET,
        "authorization_endpoint": AUTHORIZE_URL,
        "token_endpoint": TOKEN_URL,
        "scope": "openid email profile",
        "profile_endpoint": USERINFO_URL,
    }
    values.update(overrides)
    return ClientConfig(**values)


def _form(request) -> dict[str, str]:
    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    pairs = parse_qsl(body, keep_blank_values=True)
    assert len(pairs) == len({name for name, _ in pairs}), "a parameter repeats"
    return dict(pairs)


# ---------------------------------------------------------------------------- config
def test_config_repr_hides_the_secret():
    config = _config()
    assert SECRET not in repr(config)
    assert "client_secret=" not in repr(config)


def test_config_refuses_an_unknown_auth_method():
    with pytest.raises(ValueError):
        _config(auth_method="private_key_jwt")


@pytest.mark.django_db
def test_config_from_integration_copies_the_settings():
    integration = OAuthIntegrationFactory(
        client_auth_method="client_secret_basic",
        profile_endpoint=USERINFO_URL,
        connect_timeout=2.5,
        read_timeout=7,
    )
    integration.refresh_from_db()
    config = ClientConfig.from_integration(integration)
    assert config.client_secret == "s3cr3t:with+odd/chars=%"
    assert config.auth_method == "client_secret_basic"
    assert config.profile_endpoint == USERINFO_URL
    assert config.timeout == (2.5, 7.0)


@pytest.mark.django_db
@responses.activate
def test_an_undecryptable_secret_never_reaches_the_idp(settings):
    integration = OAuthIntegrationFactory()
    # The key that encrypted the secret is no longer configured.
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    integration.refresh_from_db()
    responses.post(TOKEN_URL, json=TOKEN_OK)
    with pytest.raises(IntegrationConfigurationError, match="Enter the client secret again"):
        ClientConfig.from_integration(integration)
    assert len(responses.calls) == 0


# ---------------------------------------------------------------------------- PKCE
def test_pkce_challenge_matches_rfc7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_pair_is_fresh_unreserved_and_s256():
    pairs = {pkce_pair() for _ in range(200)}
    assert len(pairs) == 200
    for verifier, challenge in pairs:
        assert 43 <= len(verifier) <= 128
        assert set(verifier) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        )
        assert challenge == pkce_challenge(verifier)
        assert challenge != verifier


@pytest.mark.parametrize("verifier", ["short", "x" * 129, "a" * 42 + "+", "é" * 43])
def test_pkce_challenge_refuses_invalid_verifiers(verifier):
    with pytest.raises(ValueError):
        pkce_challenge(verifier)


# ---------------------------------------------------------------------------- authorization URL
def test_authorization_url_has_exactly_the_rfc6749_parameters():
    url = authorization_url(
        _config(),
        redirect_uri=REDIRECT_URI,
        state="st-1",
        nonce="n-1",
        code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https",
        "idp.example.com",
        "/authorize",
        "",
    )
    assert parse_qs(parts.query, keep_blank_values=True) == {
        "response_type": ["code"],
        "client_id": ["campaign-sso"],
        "redirect_uri": [REDIRECT_URI],
        "scope": ["openid email profile"],
        "state": ["st-1"],
        "nonce": ["n-1"],
        "code_challenge": ["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"],
        "code_challenge_method": ["S256"],
    }
    assert SECRET not in url and "s3%3Ac" not in url


def test_authorization_url_without_scope_nonce_or_pkce_leaves_them_out():
    url = authorization_url(_config(scope=""), redirect_uri=REDIRECT_URI, state="st")
    assert set(parse_qs(urlsplit(url).query)) == {
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
    }


def test_authorization_url_keeps_the_endpoints_own_parameters_verbatim():
    config = _config(authorization_endpoint=AUTHORIZE_URL + "?p=B2C_1_signin&ui=a%20b")
    url = authorization_url(config, redirect_uri=REDIRECT_URI, state="st")
    query = urlsplit(url).query
    assert query.startswith("p=B2C_1_signin&ui=a%20b&response_type=code&")
    assert parse_qs(query)["p"] == ["B2C_1_signin"]


@pytest.mark.parametrize("name", ["client_id", "state", "scope", "redirect_uri", "nonce"])
def test_authorization_url_refuses_an_endpoint_carrying_our_parameters(name):
    config = _config(authorization_endpoint=f"{AUTHORIZE_URL}?{name}=x")
    with pytest.raises(OAuthError) as excinfo:
        authorization_url(config, redirect_uri=REDIRECT_URI, state="st")
    assert excinfo.value.code == "authorization_endpoint_invalid"
    assert name in str(excinfo.value)


def test_authorization_url_requires_a_state():
    with pytest.raises(ValueError):
        authorization_url(_config(), redirect_uri=REDIRECT_URI, state="")


# ---------------------------------------------------------------------------- token request
@responses.activate
def test_client_secret_post_sends_credentials_only_in_the_body():
    responses.post(TOKEN_URL, json=TOKEN_OK)
    tokens = exchange_code(
        _config(), code="c0de", redirect_uri=REDIRECT_URI, code_verifier="v" * 43
    )
    assert tokens["access_token"] == "at-123"
    request = responses.calls[0].request
    assert "Authorization" not in request.headers
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert _form(request) == {
        "grant_type": "authorization_code",
        "code": "c0de",
        "redirect_uri": REDIRECT_URI,
        "code_verifier": "v" * 43,
        "client_id": "campaign-sso",
        "client_secret": SECRET,
    }
    assert request.url == TOKEN_URL


@responses.activate
def test_client_secret_basic_percent_encodes_before_base64_with_a_space_as_20():
    """RFC 6749 §2.3.1 says form-urlencode; a space as "+" then reaches servers that only
    percent-decode (Authlib) as a plus sign. %20 reads the same to both kinds (issue 15)."""
    responses.post(TOKEN_URL, json=TOKEN_OK)
    client_id = "1PpG/Q 1:x"
    # By hand: every character but A-Z a-z 0-9 - . _ ~ as %XX of its UTF-8, a space as %20.
    userpass = (
        "1PpG%2FQ%201%3Ax"  # 1PpG/Q 1:x
        ":"
        "s3%3Ac%2Br%2Fe%3Dt%25%20%C3%A9%E2%82%AC%20%C3%BC"  # s3:c+r/e=t% é€ ü
    )
    expected = "Basic " + base64.b64encode(userpass.encode("ascii")).decode("ascii")
    assert expected == (
        "Basic MVBwRyUyRlElMjAxJTNBeDpzMyUzQWMlMkJyJTJGZSUzRHQlMjUlMjAlQzMlQTklRTIlODIlQUMl"
        "MjAlQzMlQkM="
    )
    exchange_code(
        _config(client_id=client_id, auth_method="client_secret_basic"),
        code="c0de",
        redirect_uri=REDIRECT_URI,
    )
    request = responses.calls[0].request
    assert request.headers["Authorization"] == expected
    assert _form(request) == {
        "grant_type": "authorization_code",
        "code": "c0de",
        "redirect_uri": REDIRECT_URI,
    }


CREDENTIALS = [
    ("campaign-sso", "s3:c+r/e=t&x%y"),
    ("id with space", "secret with spaces"),
    ("ïd:é€", "sécret + ü / = & % : ☃"),
    ("a+b", "100%+"),
]


@responses.activate
@pytest.mark.parametrize(("client_id", "secret"), CREDENTIALS)
def test_basic_credentials_read_the_same_to_form_and_percent_decoding_servers(client_id, secret):
    responses.post(TOKEN_URL, json=TOKEN_OK)
    exchange_code(
        _config(client_id=client_id, client_secret=secret, auth_method="client_secret_basic"),
        code="c",
        redirect_uri=REDIRECT_URI,
    )
    header = responses.calls[0].request.headers["Authorization"]
    encoded_id, encoded_secret = base64.b64decode(header.removeprefix("Basic ")).decode().split(":")
    # Form-decoding (RFC 6749 §2.3.1, django-oauth-toolkit) and percent-decoding (Authlib).
    assert (unquote_plus(encoded_id), unquote_plus(encoded_secret)) == (client_id, secret)
    assert (unquote(encoded_id), unquote(encoded_secret)) == (client_id, secret)
    assert "+" not in encoded_id + encoded_secret and " " not in encoded_id + encoded_secret


@responses.activate
def test_an_unknown_token_type_is_accepted_when_the_access_token_is_never_sent():
    """Slack answers token_type "bot"; without a profile endpoint we never use the token."""
    slack = {
        "ok": True,
        "access_token": "xoxb-17653672481",
        "token_type": "bot",
        "scope": "commands,incoming-webhook",
        "team": {"name": "Example", "id": "T9TK3CUKW"},
        "authed_user": {"id": "U1234", "access_token": "xoxp-1234", "token_type": "user"},
    }
    responses.post(TOKEN_URL, json=slack)
    tokens = exchange_code(_config(profile_endpoint=""), code="c", redirect_uri=REDIRECT_URI)
    assert tokens["authed_user"]["id"] == slack["authed_user"]["id"]
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(_config(), code="c", redirect_uri=REDIRECT_URI)
    assert excinfo.value.code == "token_invalid_response"
    assert "Bearer" in str(excinfo.value)


@responses.activate
def test_a_changed_scope_is_accepted_and_the_granted_scope_kept(caplog):
    """RFC 6749 §3.3: the IdP says which scope it granted (Entra leaves openid out)."""
    responses.post(TOKEN_URL, json={**TOKEN_OK, "scope": "email User.Read"})
    with caplog.at_level("INFO", logger="integrations.oauth.client"):
        tokens = exchange_code(_config(), code="c", redirect_uri=REDIRECT_URI)
    assert tokens["scope"] == "email User.Read"
    assert "missing=openid profile added=User.Read" in caplog.text


@responses.activate
def test_the_token_request_body_never_has_a_plain_pkce_method_or_a_repeated_parameter():
    responses.post(TOKEN_URL, json=TOKEN_OK)
    verifier, _challenge = pkce_pair()
    exchange_code(_config(), code="c0de", redirect_uri=REDIRECT_URI, code_verifier=verifier)
    sent = _form(responses.calls[0].request)
    assert sent["code_verifier"] == verifier
    assert "code_challenge_method" not in sent


@responses.activate
def test_token_type_is_case_insensitive_and_expires_in_may_be_a_string():
    responses.post(
        TOKEN_URL, json={"access_token": "a", "token_type": "bearer", "expires_in": "60"}
    )
    assert exchange_code(_config(), code="c", redirect_uri=REDIRECT_URI)["expires_in"] == 60


@responses.activate
def test_an_unusable_expires_in_is_dropped_not_fatal():
    responses.post(TOKEN_URL, json={"access_token": "a", "token_type": "BEARER", "expires_in": "x"})
    assert "expires_in" not in exchange_code(_config(), code="c", redirect_uri=REDIRECT_URI)


@responses.activate
def test_an_id_token_alone_is_a_usable_answer():
    """Azure AD B2C answers scope=openid with an id_token and no access token."""
    responses.post(TOKEN_URL, json={"id_token": "h.p.s", "token_type": "Bearer", "scope": "openid"})
    tokens = exchange_code(_config(), code="c", redirect_uri=REDIRECT_URI)
    assert tokens["id_token"] == "h.p.s" and "access_token" not in tokens


TOKEN_FAILURES = [
    # (status, body or JSON, expected code, retryable)
    (
        400,
        {"error": "invalid_grant", "error_description": "<b>code expired</b>"},
        "invalid_grant",
        True,
    ),
    (400, {"error": "invalid_client"}, "invalid_client", False),
    (401, {"error": "invalid_client"}, "invalid_client", False),
    (401, "<html>Unauthorized</html>", "invalid_client", False),
    (401, {"message": "no"}, "invalid_client", False),
    (400, {"error": "invalid_request"}, "invalid_request", False),
    (400, {"error": "unauthorized_client"}, "unauthorized_client", False),
    (400, {"error": "unsupported_grant_type"}, "unsupported_grant_type", False),
    (400, {"error": "invalid_scope"}, "invalid_scope", False),
    (400, {"error": "slow_down_please"}, "token_error", False),
    (400, {"error": "temporarily_unavailable"}, "token_error", True),
    (503, {"error": "server_error"}, "token_error", True),
    (400, {"error": "<script>alert(1)</script>"}, "token_http", False),
    (200, {"error": "invalid_grant"}, "invalid_grant", True),
    (400, "<html>Bad request</html>", "token_invalid_json", False),
    (200, "<!doctype html><html>Login</html>", "token_invalid_json", False),
    (200, "access_token=a&token_type=bearer", "token_invalid_json", False),
    (200, "[1, 2]", "token_invalid_json", False),
    (200, {"token_type": "Bearer"}, "token_invalid_response", False),
    (200, {"access_token": "", "token_type": "Bearer"}, "token_invalid_response", False),
    (200, {"access_token": "a"}, "token_invalid_response", False),
    (200, {"id_token": "", "token_type": "Bearer"}, "token_invalid_response", False),
    (200, {"access_token": "", "id_token": "x.y.z"}, "token_invalid_response", False),
    (200, {"access_token": "a", "token_type": "mac"}, "token_invalid_response", False),
    (
        200,
        {"access_token": "a", "token_type": "Bearer", "id_token": 5},
        "token_invalid_response",
        False,
    ),
    (500, "<html>Oops</html>", "token_http", True),
    (503, {"message": "maintenance"}, "token_http", True),
    (302, "", "token_http", False),
]


@responses.activate
@pytest.mark.parametrize(("status", "body", "code", "retryable"), TOKEN_FAILURES)
def test_token_failures_have_a_stable_code_and_safe_message(status, body, code, retryable):
    if isinstance(body, dict):
        responses.post(TOKEN_URL, json=body, status=status)
    else:
        responses.post(TOKEN_URL, body=body, status=status, content_type="text/html")
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(_config(), code="c", redirect_uri=REDIRECT_URI)
    error = excinfo.value
    assert (error.code, error.step, error.retryable, error.status_code) == (
        code,
        "token",
        retryable,
        status,
    )
    message = str(error)
    assert message and SECRET not in message
    assert "<" not in message and "Oops" not in message and "maintenance" not in message
    assert len(responses.calls) == 1


TRANSPORT_FAILURES = [
    (requests.exceptions.ConnectTimeout(), "token_timeout", "connection timeout"),
    (requests.exceptions.ReadTimeout(), "token_timeout", "read timeout"),
    (requests.exceptions.SSLError(), "token_tls", "TLS"),
    (requests.exceptions.ConnectionError(), "token_connection", "connection"),
]


@responses.activate
@pytest.mark.parametrize(("exception", "code", "words"), TRANSPORT_FAILURES)
def test_transport_failures_are_plain_words_and_never_retried(exception, code, words):
    responses.post(TOKEN_URL, body=exception)
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(_config(), code="c", redirect_uri=REDIRECT_URI)
    assert excinfo.value.code == code
    assert words in str(excinfo.value)
    assert excinfo.value.status_code is None
    # A code is single-use: the POST is not repeated, whatever happened.
    assert len(responses.calls) == 1


@responses.activate
def test_an_oversized_token_answer_is_refused():
    responses.post(TOKEN_URL, body=b"{" + b" " * (1024 * 1024 + 10) + b"}")
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(_config(), code="c", redirect_uri=REDIRECT_URI)
    assert excinfo.value.code == "token_too_large"


@responses.activate
@pytest.mark.parametrize("body", TOO_DEEP)
def test_a_token_answer_nested_too_deeply_is_refused_with_its_own_code(body):
    responses.post(TOKEN_URL, body=body, content_type="application/json")
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(_config(), code="c", redirect_uri=REDIRECT_URI)
    error = excinfo.value
    assert (error.code, error.step, error.retryable, error.status_code) == (
        "token_too_deep",
        "token",
        False,
        200,
    )
    assert str(error) == ("The token endpoint's answer is nested too deeply (more than 32 levels).")


def test_a_disallowed_token_endpoint_is_never_called(settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    with pytest.raises(OAuthError) as excinfo:
        exchange_code(
            _config(token_endpoint="https://10.0.0.5/token"), code="c", redirect_uri=REDIRECT_URI
        )
    assert excinfo.value.code == "token_url_refused"


# ---------------------------------------------------------------------------- profile
@responses.activate
def test_profile_is_fetched_with_a_bearer_header_never_in_the_url():
    responses.get(USERINFO_URL, json={"sub": "42", "email": "a@example.com"})
    assert fetch_profile(_config(), access_token="at-123") == {
        "sub": "42",
        "email": "a@example.com",
    }
    request = responses.calls[0].request
    assert request.method == "GET"
    assert request.headers["Authorization"] == "Bearer at-123"
    assert request.headers["Accept"] == "application/json"
    assert request.url == USERINFO_URL
    assert "at-123" not in request.url


PROFILE_FAILURES = [
    (401, {"error": "invalid_token"}, "userinfo_unauthorized"),
    (403, "forbidden", "userinfo_unauthorized"),
    (404, "not found", "userinfo_failed"),
    (500, "oops", "userinfo_failed"),
    (200, "<html></html>", "userinfo_invalid_json"),
    (200, "[]", "userinfo_invalid_json"),
    (200, "eyJhbGciOiJSUzI1NiJ9.e30.sig", "userinfo_invalid_json"),
]


@responses.activate
@pytest.mark.parametrize(("status", "body", "code"), PROFILE_FAILURES)
def test_profile_failures(status, body, code):
    if isinstance(body, dict):
        responses.get(USERINFO_URL, json=body, status=status)
    else:
        responses.get(USERINFO_URL, body=body, status=status)
    with pytest.raises(OAuthError) as excinfo:
        fetch_profile(_config(), access_token="at")
    assert (excinfo.value.code, excinfo.value.step) == (code, "userinfo")
    if isinstance(body, str):
        assert body not in str(excinfo.value)


@responses.activate
@pytest.mark.parametrize("body", TOO_DEEP)
def test_a_profile_nested_too_deeply_is_refused_with_its_own_code(body):
    responses.get(USERINFO_URL, body=body, content_type="application/json")
    with pytest.raises(OAuthError) as excinfo:
        fetch_profile(_config(), access_token="at")
    assert (excinfo.value.code, excinfo.value.step) == ("userinfo_too_deep", "userinfo")
    assert str(excinfo.value) == (
        "The profile endpoint's answer is nested too deeply (more than 32 levels)."
    )


@responses.activate
def test_a_realistic_nested_profile_is_read_whole():
    # SAP CDC's account object: subscriptions.newsletter.email.isSubscribed, four levels deep.
    userinfo = json.loads((PROFILES / "sap-cdc-gigya.json").read_text())["userinfo"]
    responses.get(USERINFO_URL, json=userinfo)
    assert fetch_profile(_config(), access_token="at") == userinfo


@responses.activate
def test_profile_timeout_and_missing_endpoint():
    responses.get(USERINFO_URL, body=requests.exceptions.ReadTimeout())
    with pytest.raises(OAuthError) as excinfo:
        fetch_profile(_config(), access_token="at")
    assert (excinfo.value.code, excinfo.value.retryable) == ("userinfo_timeout", True)
    with pytest.raises(OAuthError) as excinfo:
        fetch_profile(_config(profile_endpoint=""), access_token="at")
    assert excinfo.value.code == "userinfo_not_configured"


def test_an_access_token_that_would_break_the_header_is_refused():
    with pytest.raises(OAuthError) as excinfo:
        fetch_profile(_config(), access_token="at\r\nX-Injected: 1")
    assert excinfo.value.code == "userinfo_invalid_token"


# ---------------------------------------------------------------------------- probes
PROBES = [
    ({"status": 400, "json": {"error": "invalid_grant"}}, True, "credentials_accepted"),
    ({"status": 400, "json": {"error": "invalid_client"}}, False, "invalid_client"),
    ({"status": 401, "body": ""}, False, "invalid_client"),
    ({"status": 400, "json": {"error": "unauthorized_client"}}, False, "unauthorized_client"),
    ({"status": 200, "body": "<html>hi</html>"}, False, "token_invalid_json"),
    ({"status": 200, "json": TOKEN_OK}, False, "invalid_code_accepted"),
    ({"body": requests.exceptions.ConnectTimeout()}, False, "token_timeout"),
    ({"body": requests.exceptions.SSLError()}, False, "token_tls"),
    ({"body": requests.exceptions.ConnectionError()}, False, "token_connection"),
]


@responses.activate
@pytest.mark.parametrize(("answer", "ok", "code"), PROBES)
def test_token_endpoint_probe(answer, ok, code):
    responses.post(TOKEN_URL, **answer)
    result = token_endpoint_probe(_config(), redirect_uri=REDIRECT_URI)
    assert (result.ok, result.code) == (ok, code)
    assert SECRET not in result.message and "<html>" not in result.message
    sent = _form(responses.calls[0].request)
    assert sent["code"].startswith("campaign-sso-connection-test-")
    assert sent["redirect_uri"] == REDIRECT_URI


@responses.activate
@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ({"status": 200, "body": "<html>login</html>"}, True),
        ({"status": 302, "headers": {"Location": "https://idp.example.com/login"}}, True),
        ({"status": 400, "body": "missing client_id"}, True),
        ({"status": 503, "body": "down"}, False),
        ({"body": requests.exceptions.ConnectTimeout()}, False),
    ],
)
def test_authorization_endpoint_probe(answer, ok):
    responses.get(AUTHORIZE_URL, **answer)
    result = authorization_endpoint_probe(_config())
    assert result.ok is ok
    assert "authorization endpoint" in result.message


# ---------------------------------------------------------------------------- error reports
@responses.activate
@pytest.mark.parametrize("auth_method", ["client_secret_post", "client_secret_basic"])
def test_an_error_report_from_inside_the_token_call_hides_the_secret(auth_method):
    import sys

    from django.views.debug import ExceptionReporter

    # Something unexpected breaks mid-request: Django's error report (DEBUG page, admin
    # e-mails) lists the local variables of every frame.
    responses.post(TOKEN_URL, body=ValueError("unexpected"))
    try:
        exchange_code(_config(auth_method=auth_method), code="c0de", redirect_uri=REDIRECT_URI)
    except ValueError:
        frames = ExceptionReporter(None, *sys.exc_info()).get_traceback_frames()
    else:
        pytest.fail("the error was expected to propagate")
    assert {"exchange_code", "_token_request", "send"} <= {frame["function"] for frame in frames}
    # Django hides the variables of a marked function and of everything it calls (egress,
    # requests), where the request body and headers sit.
    for frame in frames:
        shown = repr(frame["vars"])
        assert SECRET not in shown
        assert "s3%3Ac" not in shown  # nor its form-encoded form
        assert "Basic " not in shown  # nor the Authorization header
