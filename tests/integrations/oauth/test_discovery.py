"""Importing an IdP's settings from its OpenID Connect discovery document."""

import pytest
import requests
import responses

from integrations.oauth.discovery import (
    AS_METADATA_WELL_KNOWN,
    WELL_KNOWN_SUFFIX,
    DiscoveryError,
    discover,
    discover_from_endpoints,
    discovery_urls,
    document_url_for,
    probe_candidates,
)
from tests.core.deep_json import TOO_DEEP

ISSUER = "https://idp.example.com/realms/main"
WELL_KNOWN = ISSUER + "/.well-known/openid-configuration"
METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": ISSUER + "/protocol/openid-connect/auth",
    "token_endpoint": ISSUER + "/protocol/openid-connect/token",
    "userinfo_endpoint": ISSUER + "/protocol/openid-connect/userinfo",
    "jwks_uri": ISSUER + "/protocol/openid-connect/certs",
    "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
    "authorization_response_iss_parameter_supported": True,
    "code_challenge_methods_supported": ["plain", "S256"],
    "scopes_supported": ["openid", "email"],
}


@pytest.mark.parametrize(
    ("given", "document", "issuer"),
    [
        (ISSUER, WELL_KNOWN, ISSUER),
        (WELL_KNOWN, WELL_KNOWN, ISSUER),
        (" " + ISSUER + " ", WELL_KNOWN, ISSUER),
        (
            "https://tenant.example.com/",
            "https://tenant.example.com" + "/.well-known/openid-configuration",
            "https://tenant.example.com/",
        ),
    ],
)
def test_discovery_urls(given, document, issuer):
    assert discovery_urls(given) == (document, issuer)


@responses.activate
@pytest.mark.parametrize("given", [ISSUER, WELL_KNOWN])
def test_discover_returns_the_endpoints(given):
    responses.get(WELL_KNOWN, json=METADATA)
    result = discover(given)
    assert result.issuer == ISSUER
    assert result.authorization_endpoint == METADATA["authorization_endpoint"]
    assert result.token_endpoint == METADATA["token_endpoint"]
    assert result.userinfo_endpoint == METADATA["userinfo_endpoint"]
    assert result.jwks_uri == METADATA["jwks_uri"]
    assert result.token_endpoint_auth_methods_supported == (
        "client_secret_post",
        "private_key_jwt",
    )
    assert result.authorization_response_iss_parameter_supported is True
    assert result.code_challenge_methods_supported == ("plain", "S256")
    assert responses.calls[0].request.headers["Accept"] == "application/json"


@responses.activate
def test_optional_metadata_gets_the_specified_defaults():
    minimal = {k: METADATA[k] for k in ("issuer", "authorization_endpoint", "token_endpoint")}
    responses.get(WELL_KNOWN, json=minimal)
    result = discover(ISSUER)
    assert result.userinfo_endpoint == "" and result.jwks_uri == ""
    assert result.token_endpoint_auth_methods_supported == ("client_secret_basic",)
    assert result.authorization_response_iss_parameter_supported is False
    assert result.code_challenge_methods_supported == ()


FAILURES = [
    ({"status": 404, "body": "Not Found"}, "HTTP 404"),
    ({"status": 500, "body": "oops"}, "HTTP 500"),
    ({"status": 302, "headers": {"Location": "https://evil.example.com/"}}, "HTTP 302"),
    ({"status": 200, "body": "<!doctype html><p>Login</p>"}, "did not return JSON"),
    ({"status": 200, "body": '{"issuer": '}, "did not return JSON"),
    ({"status": 200, "body": b"\xff\xfe"}, "did not return JSON"),
    ({"status": 200, "json": ["not", "an", "object"]}, "not a JSON object"),
    ({"status": 200, "json": {**METADATA, "issuer": ISSUER + "/"}}, "another issuer"),
    ({"status": 200, "json": {**METADATA, "issuer": "https://idp.example.com"}}, "another issuer"),
    ({"status": 200, "json": {**METADATA, "issuer": ISSUER.upper()}}, "another issuer"),
    ({"status": 200, "json": {k: v for k, v in METADATA.items() if k != "issuer"}}, "no issuer"),
    (
        {"status": 200, "json": {k: v for k, v in METADATA.items() if k != "token_endpoint"}},
        "no token_endpoint",
    ),
    (
        {"status": 200, "json": {**METADATA, "token_endpoint": "http://idp.example.com/token"}},
        "token_endpoint is not allowed",
    ),
    (
        {"status": 200, "json": {**METADATA, "userinfo_endpoint": "https://10.1.2.3/userinfo"}},
        "userinfo_endpoint is not allowed",
    ),
    (
        {"status": 200, "json": {**METADATA, "jwks_uri": "https://169.254.169.254/keys"}},
        "jwks_uri is not allowed",
    ),
    (
        {"status": 200, "json": {**METADATA, "authorization_endpoint": 42}},
        "authorization_endpoint is not a URL",
    ),
    (
        {"status": 200, "json": {**METADATA, "token_endpoint_auth_methods_supported": "basic"}},
        "not a list",
    ),
    (
        {"status": 200, "json": {**METADATA, "authorization_response_iss_parameter_supported": 1}},
        "true or false",
    ),
    ({"body": requests.exceptions.ConnectTimeout()}, "did not answer in time"),
    ({"body": requests.exceptions.ReadTimeout()}, "did not answer in time"),
    ({"body": requests.exceptions.SSLError()}, "TLS certificate"),
    ({"body": requests.exceptions.ConnectionError()}, "connection to the discovery URL failed"),
    ({"status": 200, "body": b'{"x": "' + b"a" * (600 * 1024) + b'"}'}, "too large"),
    *(
        pytest.param(
            {"status": 200, "body": deep.values[0]},
            "The discovery document is nested too deeply (more than 32 levels) to be one.",
            id=deep.id,
        )
        for deep in TOO_DEEP
    ),
]


@responses.activate
@pytest.mark.parametrize(("answer", "words"), FAILURES)
def test_discovery_failures_are_plain_words(answer, words):
    responses.get(WELL_KNOWN, **answer)
    with pytest.raises(DiscoveryError) as excinfo:
        discover(ISSUER)
    assert words in str(excinfo.value)
    assert "<" not in str(excinfo.value)
    assert len(responses.calls) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com",
        "https://10.0.0.1",
        "https://idp.internal",
        "https://169.254.169.254/.well-known/openid-configuration",
        "not a url",
    ],
)
def test_disallowed_discovery_addresses_are_never_fetched(url, settings):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        with pytest.raises(DiscoveryError, match="not allowed"):
            discover(url)
        assert len(mock.calls) == 0


# ---------------------------------------------------------------------------- from endpoints
def test_the_documents_looked_for_follow_the_authorization_endpoints_path():
    assert [url for url, _ in probe_candidates(METADATA["authorization_endpoint"])] == [
        f"{ISSUER}/protocol/openid-connect/.well-known/openid-configuration",
        "https://idp.example.com/.well-known/oauth-authorization-server/realms/main/protocol/"
        "openid-connect",
        f"{ISSUER}/protocol/.well-known/openid-configuration",
        "https://idp.example.com/.well-known/oauth-authorization-server/realms/main/protocol",
        WELL_KNOWN,
        "https://idp.example.com/.well-known/oauth-authorization-server/realms/main",
        "https://idp.example.com/realms/.well-known/openid-configuration",
        "https://idp.example.com/.well-known/oauth-authorization-server/realms",
        "https://idp.example.com/.well-known/openid-configuration",
        "https://idp.example.com/.well-known/oauth-authorization-server",
    ]


@pytest.mark.parametrize(
    ("issuer", "oidc", "rfc8414"),
    [
        (
            ISSUER,
            WELL_KNOWN,
            "https://idp.example.com/.well-known/oauth-authorization-server/realms/main",
        ),
        (
            "https://idp.example.com/",
            "https://idp.example.com/.well-known/openid-configuration",
            "https://idp.example.com/.well-known/oauth-authorization-server",
        ),
    ],
)
def test_where_an_issuers_metadata_lives(issuer, oidc, rfc8414):
    assert document_url_for(issuer, well_known=WELL_KNOWN_SUFFIX) == oidc
    assert document_url_for(issuer, well_known=AS_METADATA_WELL_KNOWN) == rfc8414


@responses.activate
def test_the_search_stops_at_the_issuers_own_document_for_the_typed_endpoints():
    responses.get(WELL_KNOWN, json=METADATA)
    search = discover_from_endpoints(
        authorization_endpoint=METADATA["authorization_endpoint"],
        token_endpoint=METADATA["token_endpoint"],
    )
    assert search.found is not None and search.found.jwks_uri == METADATA["jwks_uri"]
    assert search.document_url == WELL_KNOWN
    assert search.tried[-1] == WELL_KNOWN and len(search.tried) == 5


@responses.activate
def test_a_document_served_at_another_issuers_address_is_never_used():
    # The realm's document names the host's root as issuer: its metadata is not at this URL.
    responses.get(WELL_KNOWN, json={**METADATA, "issuer": "https://idp.example.com"})
    search = discover_from_endpoints(
        authorization_endpoint=METADATA["authorization_endpoint"],
        token_endpoint=METADATA["token_endpoint"],
    )
    assert search.found is None
    assert search.document_url == WELL_KNOWN and "names the issuer" in search.refusal
    assert len(search.tried) == 10  # every candidate, none usable


@responses.activate
def test_the_search_keeps_to_its_time_budget():
    responses.get(
        f"{ISSUER}/protocol/openid-connect/.well-known/openid-configuration",
        body=requests.exceptions.ReadTimeout(),
    )
    search = discover_from_endpoints(
        authorization_endpoint=METADATA["authorization_endpoint"],
        token_endpoint=METADATA["token_endpoint"],
        budget_seconds=0.4,
    )
    assert search.found is None and search.tried == ()
