import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from integrations.oauth.tokens import (
    KeySource,
    TokenError,
    access_token_claims,
    access_token_validate,
    id_token_validate,
    jwks_get,
    parsed_keys,
    tls_stands_in_for_signatures,
)
from tests.core.deep_json import TOO_DEEP
from tests.idp_stub import CLIENT_ID, ISSUER, JWKS_URI, IdPStub, public_jwk, rsa_key

SOURCE = KeySource(jwks_uri=JWKS_URI)
PROFILES = Path(__file__).resolve().parents[2] / "fixtures" / "idp-profiles"


@pytest.fixture
def idp():
    return IdPStub()


@pytest.fixture
def jwks(idp):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(JWKS_URI, json=idp.jwks())
        yield rsps


def validate(token, *, nonce="n-1", issuer=ISSUER, client_id=CLIENT_ID):
    return id_token_validate(
        token=token, source=SOURCE, issuer=issuer, client_id=client_id, nonce=nonce
    )


def code_of(token, **kwargs) -> str:
    with pytest.raises(TokenError) as exc_info:
        validate(token, **kwargs)
    return exc_info.value.code


def test_valid_rs256_id_token_with_known_kid_is_accepted(idp, jwks):
    claims = validate(idp.id_token(nonce="n-1"))
    assert claims["sub"] == "user-123"


def test_flipped_signature_is_rejected(idp, jwks):
    token = idp.id_token(nonce="n-1")
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0xFF
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert code_of(f"{head}.{payload}.{flipped}") == "id_token_invalid_signature"


def test_alg_none_is_rejected(idp, jwks):
    token = jwt.encode(idp.claims(nonce="n-1"), None, algorithm="none", headers={"kid": "key-1"})
    assert code_of(token) == "id_token_unsupported_alg"


def test_hs256_keyed_with_the_public_key_is_rejected(idp, jwks):
    public_pem = idp.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    # PyJWT itself refuses PEM keys for HMAC; forge the MAC by hand as an attacker would.
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "kid": "key-1", "typ": "JWT"}).encode())
    payload = b64(json.dumps(idp.claims(nonce="n-1")).encode())
    mac = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert code_of(f"{header}.{payload}.{b64(mac)}") == "id_token_unsupported_alg"


def test_wrong_issuer_is_rejected(idp, jwks):
    assert code_of(idp.id_token(nonce="n-1", iss="https://evil.example.com")) == (
        "id_token_wrong_issuer"
    )


@pytest.mark.parametrize("almost", [ISSUER + "/", ISSUER.upper()])
def test_issuer_is_compared_without_normalisation(idp, jwks, almost):
    assert code_of(idp.id_token(nonce="n-1", iss=almost)) == "id_token_wrong_issuer"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": None},
        {"aud": "another-client"},
        {"aud": [CLIENT_ID, "untrusted-other"], "azp": CLIENT_ID},
    ],
)
def test_missing_wrong_or_extra_audience_is_rejected(idp, jwks, claims):
    assert code_of(idp.id_token(nonce="n-1", **claims)) == "id_token_wrong_audience"


def test_azp_other_than_our_client_is_rejected(idp, jwks):
    assert code_of(idp.id_token(nonce="n-1", azp="someone-else")) == "id_token_wrong_audience"


def test_audience_list_with_only_us_and_matching_azp_is_accepted(idp, jwks):
    assert validate(idp.id_token(nonce="n-1", aud=[CLIENT_ID], azp=CLIENT_ID))


def test_expired_id_token_is_rejected(idp, jwks):
    now = int(time.time())
    token = idp.id_token(nonce="n-1", iat=now - 400, exp=now - 120)
    assert code_of(token) == "id_token_expired"


def test_expiry_within_the_leeway_is_accepted(idp, jwks):
    now = int(time.time())
    assert validate(idp.id_token(nonce="n-1", iat=now - 100, exp=now - 30))


@pytest.mark.parametrize("missing", ["exp", "iat"])
def test_missing_exp_or_iat_is_rejected(idp, jwks, missing):
    assert code_of(idp.id_token(nonce="n-1", **{missing: None})) == "id_token_missing_claim"


def test_iat_in_the_future_beyond_leeway_is_rejected_as_clock_skew(idp, jwks):
    now = int(time.time())
    with pytest.raises(TokenError) as exc_info:
        validate(idp.id_token(nonce="n-1", iat=now + 3600, exp=now + 4000))
    assert exc_info.value.code == "id_token_not_yet_valid"
    assert "clock skew" in exc_info.value.detail


def test_clock_ahead_within_leeway_is_accepted(idp, jwks):
    now = int(time.time())
    assert validate(idp.id_token(nonce="n-1", iat=now + 45, exp=now + 345))


def test_iat_too_old_is_rejected(idp, jwks):
    now = int(time.time())
    token = idp.id_token(nonce="n-1", iat=now - 3600, exp=now + 300)
    assert code_of(token) == "id_token_expired"


@pytest.mark.parametrize("sub", [None, "", "x" * 256, 12345])
def test_missing_or_overlong_sub_is_rejected(idp, jwks, sub):
    claims = idp.claims(nonce="n-1")
    claims["sub"] = sub
    if sub is None:
        del claims["sub"]
    assert code_of(idp.sign(claims)) == "id_token_invalid_subject"


def test_sub_of_255_characters_is_accepted(idp, jwks):
    assert validate(idp.id_token(nonce="n-1", sub="x" * 255))


@pytest.mark.parametrize("nonce", ["other", None])
def test_wrong_or_missing_nonce_is_rejected(idp, jwks, nonce):
    assert code_of(idp.id_token(nonce=nonce)) == "id_token_nonce_mismatch"


def test_no_nonce_expected_when_none_was_sent(idp, jwks):
    assert validate(idp.id_token(), nonce=None)


def test_kid_absent_with_a_single_key_is_accepted(idp, jwks):
    assert validate(idp.sign(idp.claims(nonce="n-1"), kid=None))


def test_kid_absent_with_several_keys_tries_each_and_accepts_the_one_that_verifies(idp):
    others = [public_jwk(rsa_key(f"other-{i}"), f"other-{i}") for i in range(2)]
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, json={"keys": [*others, public_jwk(idp.key, "key-1")]})
        assert validate(idp.sign(idp.claims(nonce="n-1"), kid=None))


def test_kid_absent_with_no_verifying_key_is_rejected(idp):
    others = [public_jwk(rsa_key(f"other-{i}"), f"other-{i}") for i in range(2)]
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, json={"keys": others})
        token = idp.sign(idp.claims(nonce="n-1"), kid=None)
        assert code_of(token) == "id_token_invalid_signature"


def test_unknown_key_types_in_the_jwks_are_ignored(idp):
    odd = [{"kty": "OKP-X", "kid": "weird", "x": "abc"}, {"kty": "RSA", "kid": "broken", "n": "!"}]
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, json=idp.jwks(*odd))
        assert validate(idp.id_token(nonce="n-1"))


def test_es256_signed_id_token_is_accepted():
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True)
    jwk.update({"kid": "ec-1", "use": "sig"})
    idp = IdPStub(kid="ec-1")
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, json={"keys": [jwk]})
        token = idp.sign(idp.claims(nonce="n-1"), key=ec_key, alg="ES256")
        assert validate(token)["sub"] == "user-123"


def test_unknown_kid_refetches_once_then_accepts_the_rotated_key(idp, settings):
    rotated = public_jwk(rsa_key("rotated"), "key-2")
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, json=idp.jwks())
        # The cooldown started with the first fetch has expired when the IdP rotates (here it
        # lasts no time at all); the one after the refetch is the usual minute.
        settings.JWKS_REFETCH_COOLDOWN_SECONDS = 0
        validate(idp.id_token(nonce="n-1"))
        settings.JWKS_REFETCH_COOLDOWN_SECONDS = 60
        rsps.replace(responses.GET, JWKS_URI, json=idp.jwks(rotated))
        token = idp.sign(idp.claims(nonce="n-1"), key=rsa_key("rotated"), kid="key-2")
        assert validate(token)
        assert len(rsps.calls) == 2


def test_a_key_replaced_under_the_same_kid_is_the_one_used(idp, settings):
    """Keys parsed once per key set (tokens.parsed_keys) are never those of an older set: the
    same kid with another key verifies with the new key, and no longer with the old one."""
    replaced = public_jwk(rsa_key("replaced"), idp.kid)
    settings.JWKS_CACHE_SECONDS = 0  # every validation reads the key set again
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, json=idp.jwks())
        assert validate(idp.id_token(nonce="n-1"))
        assert validate(idp.id_token(nonce="n-1"))  # the keys parsed before, reused
        rsps.replace(responses.GET, JWKS_URI, json={"keys": [replaced]})
        assert validate(idp.sign(idp.claims(nonce="n-1"), key=rsa_key("replaced")))
        assert code_of(idp.id_token(nonce="n-1")) == "id_token_invalid_signature"


def test_a_key_set_seen_again_is_not_parsed_again():
    jwks = {"keys": [public_jwk(rsa_key("main"), "key-1")]}
    first = parsed_keys.usable_keys(JWKS_URI, jwks, "RS256")
    again = parsed_keys.usable_keys(JWKS_URI, json.loads(json.dumps(jwks)), "RS256")
    assert [kid for kid, _key in first] == ["key-1"]
    assert again[0][1] is first[0][1]
    other = {"keys": [public_jwk(rsa_key("other"), "key-1")]}
    assert parsed_keys.usable_keys(JWKS_URI, other, "RS256")[0][1] is not first[0][1]


def test_random_kids_refetch_at_most_once_per_cooldown(idp, settings):
    with responses.RequestsMock() as rsps:
        call = rsps.get(JWKS_URI, json=idp.jwks())
        # The first fetch's cooldown is over at once: the first made-up kid refetches, and
        # starts a cooldown of a minute that holds back the other 19.
        settings.JWKS_REFETCH_COOLDOWN_SECONDS = 0
        validate(idp.id_token(nonce="n-1"))
        settings.JWKS_REFETCH_COOLDOWN_SECONDS = 60
        for i in range(20):
            token = idp.sign(idp.claims(nonce="n-1"), kid=f"random-{i}")
            assert code_of(token) == "id_token_unknown_key"
        assert call.call_count == 2


def test_jwks_down_with_a_cold_cache_fails_cleanly(idp):
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, status=503)
        assert code_of(idp.id_token(nonce="n-1")) == "jwks_unavailable"


def test_jwks_down_with_a_warm_cache_keeps_logins_working(idp):
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, json=idp.jwks())
        validate(idp.id_token(nonce="n-1"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(JWKS_URI, status=500)
        assert validate(idp.id_token(nonce="n-1"))


def test_jwks_is_cached_per_jwks_uri():
    with responses.RequestsMock() as rsps:
        rsps.get("https://a.example.com/jwks", json={"keys": [{"kty": "RSA", "kid": "a"}]})
        rsps.get("https://b.example.com/jwks", json={"keys": [{"kty": "RSA", "kid": "b"}]})
        a = jwks_get(source=KeySource(jwks_uri="https://a.example.com/jwks"))
        b = jwks_get(source=KeySource(jwks_uri="https://b.example.com/jwks"))
        assert a["keys"][0]["kid"] == "a" and b["keys"][0]["kid"] == "b"


@pytest.mark.parametrize("body", [b"<html>oops</html>", b"[]", b'{"keys": "no"}'])
def test_jwks_that_is_not_a_key_set_is_refused(idp, body):
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, body=body)
        assert code_of(idp.id_token(nonce="n-1")) == "jwks_unavailable"


def test_jku_x5u_and_jwk_headers_are_ignored(idp):
    attacker = rsa_key("attacker")
    headers = {
        "jku": "https://evil.example.com/jwks",
        "x5u": "https://evil.example.com/cert",
        "jwk": public_jwk(attacker, "key-1"),
    }
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, json=idp.jwks())
        token = idp.sign(idp.claims(nonce="n-1"), key=attacker, headers=headers)
        assert code_of(token) == "id_token_invalid_signature"
        assert all("evil" not in call.request.url for call in rsps.calls)


def test_five_part_jwe_is_rejected_cleanly(idp, jwks):
    assert code_of("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d") == "id_token_malformed"


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (b"not json", "header cannot be decoded"),
        (b"\xff\xfe", "header cannot be decoded"),
        (b'["RS256"]', "the header is not a JSON object"),
        (b'{"alg": "RS256", "kid": 7}', "kid is not a string"),
    ],
    ids=["not-json", "not-text", "not-an-object", "kid-not-a-string"],
)
def test_a_header_that_names_no_algorithm_and_key_is_refused_before_any_key_is_fetched(
    idp, header, detail
):
    token = f"{_b64(header)}.{_b64(json.dumps(idp.claims()).encode())}.c2ln"
    with responses.RequestsMock() as rsps:  # no JWKS here: fetching one would fail the login
        with pytest.raises(TokenError) as exc_info:
            validate(token)
        assert not rsps.calls
    assert (exc_info.value.code, exc_info.value.detail) == ("id_token_malformed", detail)


def test_a_header_changed_after_signing_is_refused(idp, jwks):
    """The header read to choose the key is not trusted: the signature covers it."""
    token = idp.id_token(nonce="n-1")
    _header, payload, signature = token.split(".")
    changed = _b64(json.dumps({"alg": "RS256", "kid": idp.kid, "typ": "JWT", "x": 1}).encode())
    assert code_of(f"{changed}.{payload}.{signature}") == "id_token_invalid_signature"


def test_a_header_with_characters_outside_base64url_is_refused(idp, jwks):
    token = idp.id_token(nonce="n-1")
    header, payload, signature = token.split(".")
    assert code_of(f"{header[:4]}!{header[4:]}.{payload}.{signature}") == "id_token_malformed"


def test_without_a_jwks_uri_the_id_token_is_refused(idp):
    with pytest.raises(TokenError) as exc_info:
        id_token_validate(
            token=idp.id_token(), source=None, issuer=ISSUER, client_id=CLIENT_ID, nonce=None
        )
    assert exc_info.value.code == "id_token_no_keys"


def test_jwt_access_token_claims_are_read_when_verified(idp, jwks):
    token = idp.sign(idp.claims(aud="https://api.example.com", scp=["openid"]))
    assert access_token_claims(token=token, source=SOURCE, issuer=ISSUER)["scp"] == ["openid"]


def test_unverifiable_access_tokens_are_ignored(idp, jwks):
    foreign = idp.sign(idp.claims(), key=rsa_key("attacker"))
    assert access_token_claims(token=foreign, source=SOURCE, issuer=ISSUER) is None
    assert access_token_claims(token="opaque-token", source=SOURCE, issuer=ISSUER) is None
    assert access_token_claims(token=idp.sign(idp.claims()), source=None, issuer=ISSUER) is None


# ---------------------------------------------------------------------------- nesting depth
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_over(idp, payload: str) -> str:
    """A token the IdP really signed over `payload` (jwt.encode could not even write these)."""
    return jwt.PyJWS().encode(
        payload.encode(), idp.key, algorithm="RS256", headers={"kid": idp.kid}
    )


@pytest.mark.parametrize("header", TOO_DEEP)
def test_a_header_nested_too_deeply_is_refused_before_any_key_is_fetched(idp, header):
    token = f"{_b64(header.encode())}.{_b64(json.dumps(idp.claims()).encode())}.c2ln"
    with responses.RequestsMock() as rsps:  # no JWKS here: fetching one would fail the login
        with pytest.raises(TokenError) as exc_info:
            validate(token)
        assert not rsps.calls
    assert exc_info.value.code == "id_token_too_deep"
    assert exc_info.value.detail == "the header is nested more than 32 levels deep"


@pytest.mark.parametrize("payload", TOO_DEEP)
def test_a_signed_id_token_nested_too_deeply_is_refused(idp, jwks, payload):
    with pytest.raises(TokenError) as exc_info:
        validate(signed_over(idp, payload))
    assert exc_info.value.code == "id_token_too_deep"
    assert exc_info.value.detail == "the payload is nested more than 32 levels deep"


@pytest.mark.parametrize("payload", TOO_DEEP)
def test_a_jwt_access_token_nested_too_deeply_is_ignored(idp, jwks, payload):
    assert (
        access_token_claims(token=signed_over(idp, payload), source=SOURCE, issuer=ISSUER) is None
    )


def test_realistic_nested_access_token_claims_are_read(idp, jwks):
    # Keycloak's access token: realm_access.roles, resource_access.account.roles, address.…
    keycloak = json.loads((PROFILES / "keycloak.json").read_text())["access_token_claims"]
    claims = idp.claims(**{k: v for k, v in keycloak.items() if k not in ("iss", "iat", "exp")})
    assert access_token_claims(token=idp.sign(claims), source=SOURCE, issuer=ISSUER) == claims


@pytest.mark.parametrize("body", TOO_DEEP)
def test_a_jwks_nested_too_deeply_is_refused_as_unavailable(idp, body):
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, body=body)
        with pytest.raises(TokenError) as exc_info:
            validate(idp.id_token(nonce="n-1"))
    assert exc_info.value.code == "jwks_unavailable"
    assert exc_info.value.detail == "JWKS is nested more than 32 levels deep"


# ---------------------------------------------------------------------------- no keys: TLS
def unsigned(token, *, nonce="n-1", issuer=ISSUER):
    """An id_token read from the token endpoint's answer over TLS, with no keys known."""
    return id_token_validate(
        token=token,
        source=None,
        issuer=issuer,
        client_id=CLIENT_ID,
        nonce=nonce,
        unsigned_over_tls=True,
    )


def test_without_keys_an_id_token_from_the_token_endpoint_over_tls_is_accepted(idp):
    # Signed with a key published nowhere: nothing is fetched, the channel vouches for it.
    with responses.RequestsMock() as rsps:
        token = idp.sign(idp.claims(nonce="n-1"), key=rsa_key("unpublished"))
        assert unsigned(token)["sub"] == "user-123"
        assert not rsps.calls


def test_without_keys_the_issuer_is_checked_only_when_one_is_known(idp):
    token = idp.sign(idp.claims(nonce="n-1", iss="https://other.example.com"))
    assert unsigned(token, issuer="")["iss"] == "https://other.example.com"
    with pytest.raises(TokenError) as exc_info:
        unsigned(token)
    assert exc_info.value.code == "id_token_wrong_issuer"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"aud": "someone-else"}, "id_token_wrong_audience"),
        ({"azp": "someone-else"}, "id_token_wrong_audience"),
        ({"nonce": "not-the-one"}, "id_token_nonce_mismatch"),
        ({"nonce": None}, "id_token_nonce_mismatch"),
        ({"exp": int(time.time()) - 3600}, "id_token_expired"),
        ({"exp": None}, "id_token_missing_claim"),
        ({"iat": None}, "id_token_missing_claim"),
        ({"iat": int(time.time()) + 3600}, "id_token_not_yet_valid"),
        ({"iat": int(time.time()) - 86400}, "id_token_expired"),
        ({"sub": None}, "id_token_invalid_subject"),
    ],
)
def test_without_keys_every_other_claim_is_still_checked(idp, overrides, code):
    claims = {"nonce": "n-1", **overrides}
    with pytest.raises(TokenError) as exc_info:
        unsigned(idp.sign(idp.claims(**claims)))
    assert exc_info.value.code == code


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "", "xyz"])
def test_without_keys_alg_none_is_never_accepted(idp, alg):
    header = base64.urlsafe_b64encode(json.dumps({"alg": alg}).encode()).rstrip(b"=").decode()
    payload = jwt.encode(idp.claims(nonce="n-1"), None, algorithm="none").split(".")[1]
    with pytest.raises(TokenError) as exc_info:
        unsigned(f"{header}.{payload}.")
    assert exc_info.value.code == "id_token_unsupported_alg"


def test_without_keys_and_without_tls_the_id_token_is_refused(idp):
    with pytest.raises(TokenError) as exc_info:
        id_token_validate(
            token=idp.id_token(nonce="n-1"),
            source=None,
            issuer="",
            client_id=CLIENT_ID,
            nonce="n-1",
            unsigned_over_tls=False,
        )
    assert exc_info.value.code == "id_token_no_keys"


@pytest.mark.parametrize(
    ("url", "loopback_allowed", "trusted"),
    [
        ("https://idp.example.com/token", False, True),
        ("http://idp.example.com/token", True, False),
        ("http://127.0.0.1:9000/o/token/", True, True),
        ("http://localhost:9000/token", True, True),
        ("http://[::1]:9000/token", True, True),
        ("http://127.0.0.1:9000/o/token/", False, False),
    ],
)
def test_tls_stands_in_only_for_https_or_loopback_where_development_allows_http(
    settings, url, loopback_allowed, trusted
):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = loopback_allowed
    assert tls_stands_in_for_signatures(url) is trusted


# ---------------------------------------------------------------------------- RFC 9068
AT_JWT = {"typ": "at+jwt"}


def at_validate(token, *, issuer=ISSUER, source=SOURCE):
    return access_token_validate(token=token, source=source, issuer=issuer, client_id=CLIENT_ID)


def at_code(token, **kwargs) -> str:
    with pytest.raises(TokenError) as exc_info:
        at_validate(token, **kwargs)
    return exc_info.value.code


def test_a_jwt_access_token_for_our_client_names_the_participant(idp, jwks):
    token = idp.sign(idp.claims(sub="athlete-7"), headers=AT_JWT)
    assert at_validate(token)["sub"] == "athlete-7"
    # RFC 9068 §2.2: client_id names the client the token was issued to, aud may be an API.
    other_aud = idp.sign(
        idp.claims(aud="https://api.example.com", client_id=CLIENT_ID), headers=AT_JWT
    )
    assert at_validate(other_aud)["client_id"] == CLIENT_ID
    typ_spelled_out = idp.sign(idp.claims(), headers={"typ": "application/at+jwt"})
    assert at_validate(typ_spelled_out)["sub"] == "user-123"
    without_typ = idp.sign(idp.claims(), headers={"typ": None})
    assert at_validate(without_typ)["sub"] == "user-123"


@pytest.mark.parametrize(
    ("claims", "headers", "code"),
    [
        ({"aud": "https://api.example.com"}, AT_JWT, "access_token_wrong_audience"),
        ({"aud": "x", "client_id": "another-client"}, AT_JWT, "access_token_wrong_audience"),
        ({"iss": "https://evil.example.com"}, AT_JWT, "access_token_wrong_issuer"),
        # An id_token ("JWT") is no access token, even for our client (RFC 9068 §4).
        ({}, {"typ": "JWT"}, "access_token_wrong_type"),
        ({}, {"typ": "id_token+jwt"}, "access_token_wrong_type"),
        ({"exp": int(time.time()) - 3600}, AT_JWT, "access_token_expired"),
    ],
)
def test_a_jwt_access_token_is_held_to_rfc9068(idp, jwks, claims, headers, code):
    assert at_code(idp.sign(idp.claims(**claims), headers=headers)) == code


def test_an_access_token_that_no_key_verifies_names_nobody(idp, jwks):
    forged = idp.sign(idp.claims(), key=rsa_key("attacker"), headers=AT_JWT)
    assert at_code(forged) == "access_token_invalid_signature"
    assert at_code(idp.sign(idp.claims(), alg="HS256", key="k" * 32, headers=AT_JWT)) == (
        "access_token_unsupported_alg"
    )


def test_an_opaque_access_token_or_one_without_keys_or_issuer_names_nobody(idp):
    assert at_code("opaque-access-token") == "access_token_not_jwt"
    assert at_code(idp.sign(idp.claims()), source=None) == "access_token_no_keys"
    assert at_code(idp.sign(idp.claims()), issuer="") == "access_token_wrong_issuer"
