"""Redis, the shared cache, dies: no login is lost, and the node says "degraded", not "down".

The cache is a real `redis-server` of the test's own on a free loopback port (no persistence),
configured as in production (`config.cache.RedisCache`, sessions in `cached_db`). It is killed
before or in the middle of a participant's journey and started again afterwards, empty, as a
Redis without persistence comes back. The IdP is the loopback one of tests/faults/servers.py.

Every login while Redis is down goes through the rate limiter, the circuit breaker, the public
campaign cache, the JWKS cache and the session store with the cache failing at each of them.
"""

import pytest
from django.test import Client
from django.urls import reverse

from participants.models import AttemptOutcome, LoginAttempt, Participation
from tests.faults.conftest import log_in
from tests.participants.conftest import answers, form_token


@pytest.fixture
def redis_settings(redis_cache_server):
    return redis_cache_server


def form_page(client, campaign):
    return client.get(reverse("participants:form", args=[campaign.slug]))


def health(client) -> tuple[int, dict]:
    response = client.get("/healthz")
    return response.status_code, response.json()


def assert_prefilled(client, campaign):
    response = form_page(client, campaign)
    assert response.status_code == 200, response.status_code
    assert 'value="Ada"' in response.text  # given_name from the IdP's id_token
    return response


def test_a_login_with_redis_down_completes_and_prefills(client, campaign, idp, redis_settings):
    assert health(client) == (200, {"status": "ok", "database": "ok", "cache": "ok"})
    redis_settings.kill()

    response = log_in(client, campaign, idp)
    assert response.status_code == 303, response.status_code
    assert response["Location"].endswith(reverse("participants:form", args=[campaign.slug]))
    assert LoginAttempt.objects.get().outcome == AttemptOutcome.SUCCESS
    assert_prefilled(client, campaign)

    # Another participant's login in the same process: the keys were kept, not fetched again.
    assert log_in(Client(), campaign, idp).status_code == 303
    assert idp.calls["jwks"] == 1

    # The node can still serve: a load balancer must keep it.
    assert health(client) == (200, {"status": "degraded", "database": "ok", "cache": "unavailable"})

    redis_settings.start()  # empty, as a Redis without persistence comes back
    assert health(client) == (200, {"status": "ok", "database": "ok", "cache": "ok"})
    assert_prefilled(client, campaign)  # the session lives on in the database
    assert log_in(Client(), campaign, idp).status_code == 303


def test_redis_killed_mid_journey_costs_nothing(client, campaign, idp, redis_settings):
    # A first login with Redis up: keys, session and campaign cached in Redis.
    assert log_in(client, campaign, idp).status_code == 303
    assert_prefilled(client, campaign)
    redis_settings.kill()

    # The same browser logs in again (its session is in the dead cache) and submits.
    response = log_in(client, campaign, idp)
    assert response.status_code == 303, response.status_code
    form = assert_prefilled(client, campaign)
    submitted = client.post(
        reverse("participants:form", args=[campaign.slug]), answers(form_token(form))
    )
    assert submitted.status_code == 303, submitted.status_code
    assert client.get(submitted["Location"]).status_code == 200  # thank-you page
    assert Participation.objects.count() == 1
    assert LoginAttempt.objects.filter(outcome=AttemptOutcome.SUCCESS).count() == 2

    redis_settings.start()
    assert health(client)[1]["status"] == "ok"
    assert log_in(Client(), campaign, idp).status_code == 303


def test_redis_killed_between_login_start_and_callback(client, campaign, idp, redis_settings):
    from tests.participants.login.sso_flow import callback, login_start

    started = login_start(client, campaign)
    idp.nonce = started.nonce
    redis_settings.kill()
    response = callback(client, started)
    assert response.status_code == 303, response.status_code
    assert_prefilled(client, campaign)
