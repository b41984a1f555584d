"""The IdP's keys while the shared cache (Redis) is down: no login fails because of the cache.

The cache here is a Redis URL on a port nothing listens on (connection refused at once), as in
tests/ops; the end-to-end version with a real Redis killed mid-journey is in
tests/faults/test_redis_outage.py.
"""

import pytest
import responses

from integrations.oauth.tokens import (
    KeySource,
    TokenError,
    id_token_validate,
    jwks_get,
)
from tests.idp_stub import CLIENT_ID, ISSUER, JWKS_URI, IdPStub, public_jwk, rsa_key
from tests.ops.conftest import broken_cache  # noqa: F401  (fixture)

SOURCE = KeySource(jwks_uri=JWKS_URI)


@pytest.fixture
def idp():
    return IdPStub()


def validate(token):
    return id_token_validate(
        token=token, source=SOURCE, issuer=ISSUER, client_id=CLIENT_ID, nonce="n-1"
    )


def test_a_cold_process_fetches_the_keys_once_and_keeps_them(idp, broken_cache):  # noqa: F811
    with responses.RequestsMock() as rsps:
        call = rsps.get(JWKS_URI, json=idp.jwks())
        for _ in range(5):
            assert validate(idp.id_token(nonce="n-1"))["sub"] == "user-123"
        assert call.call_count == 1


def test_keys_seen_while_the_cache_answered_serve_during_the_outage(idp, settings):
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, json=idp.jwks())
        validate(idp.id_token(nonce="n-1"))  # through the (local-memory) cache
    settings.CACHES = {
        "default": {"BACKEND": "config.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    with responses.RequestsMock() as rsps:  # any request to the IdP would fail the test
        assert validate(idp.id_token(nonce="n-1"))["sub"] == "user-123"


def test_the_jwks_endpoint_down_too_fails_cleanly_on_a_cold_process(idp, broken_cache):  # noqa: F811
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, status=503)
        with pytest.raises(TokenError) as exc_info:
            validate(idp.id_token(nonce="n-1"))
    assert exc_info.value.code == "jwks_unavailable"


def test_an_unknown_kid_refetches_at_most_once_per_cooldown_per_process(
    idp,
    broken_cache,  # noqa: F811
    settings,
):
    settings.JWKS_REFETCH_COOLDOWN_SECONDS = 60
    rotated = public_jwk(rsa_key("rotated"), "key-2")
    with responses.RequestsMock() as rsps:
        call = rsps.get(JWKS_URI, json=idp.jwks())
        validate(idp.id_token(nonce="n-1"))
        # The first fetch started the cooldown: a made-up kid right after it fetches nothing.
        for i in range(5):
            token = idp.sign(idp.claims(nonce="n-1"), kid=f"random-{i}")
            with pytest.raises(TokenError):
                validate(token)
        assert call.call_count == 1
        # Once the cooldown has passed (here: it is shortened to nothing), a rotated key is
        # fetched (once) and accepted.
        settings.JWKS_REFETCH_COOLDOWN_SECONDS = 0
        rsps.replace(responses.GET, JWKS_URI, json=idp.jwks(rotated))
        token = idp.sign(idp.claims(nonce="n-1"), key=rsa_key("rotated"), kid="key-2")
        assert validate(token)
        assert validate(token)
        assert len(rsps.calls) == 2


def test_the_process_copy_expires_like_the_shared_one(idp, broken_cache, settings):  # noqa: F811
    with responses.RequestsMock() as rsps:
        call = rsps.get(JWKS_URI, json=idp.jwks())
        jwks_get(source=SOURCE)
        jwks_get(source=SOURCE)
        assert call.call_count == 1
        # Once the keys are older than JWKS_CACHE_SECONDS (here: it is shortened to nothing),
        # they are fetched again.
        settings.JWKS_CACHE_SECONDS = 0
        jwks_get(source=SOURCE)
        assert call.call_count == 2


def test_a_cache_that_fails_on_write_still_gives_the_fetched_keys(idp, settings, monkeypatch):
    from django.core.cache import cache

    def refused(*args, **kwargs):
        raise ConnectionError("the cache went away mid-login")

    monkeypatch.setattr(cache, "set", refused)
    monkeypatch.setattr(cache, "add", refused)
    with responses.RequestsMock() as rsps:
        rsps.get(JWKS_URI, json=idp.jwks())
        assert validate(idp.id_token(nonce="n-1"))["sub"] == "user-123"
