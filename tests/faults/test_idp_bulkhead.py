"""One customer's IdP hangs: it costs that customer's logins, not every campaign's.

At most IDP_MAX_CONCURRENT_CALLS logins of one integration wait on its IdP at once (in every
web thread of every process together, through the cache); one more fails at once, without
calling the IdP, on the "not available right now" page with a Retry-After. Another customer's
login meanwhile goes through while those calls are still hanging.

The IdP holds each token request (real threads, real sockets on 127.0.0.1) until the test lets
it go: nothing here depends on a timer. Each held login is started, and its request seen at the
IdP, before the next step, so that the threads never write to the test database at once.

Over the cap, a login waits for a slot while the IdP answers quickly (a busy campaign's burst),
and fails at once when the IdP is slow (a login holding a slot has waited more than a second).
"""

import threading
import time

import pytest
from django.core.cache import cache
from django.db import connections
from django.test import Client

from integrations.models import SignInAlert
from integrations.oauth.bulkhead import _MACHINE, SLOW_AFTER, IdPBusyError, idp_call_slot
from participants.models import LoginAttempt
from tests.factories import OAuthIntegrationFactory, make_form_campaign
from tests.faults.conftest import log_in
from tests.faults.servers import LoopbackIdP
from tests.participants.login.sso_flow import callback, login_start, make_sso_campaign

CAP = 3
OVER = 2
# A safety net only: the test lets every held request go long before.
HELD_READ_TIMEOUT = 20


@pytest.fixture(autouse=True)
def _bulkhead(settings):
    settings.IDP_MAX_CONCURRENT_CALLS = CAP
    settings.IDP_BREAKER_FAILURES = 100  # the breaker is another test's subject


@pytest.fixture
def hanging(account, idp):
    campaign, _integration = make_sso_campaign(
        account,
        issuer=idp.base,
        token_endpoint=f"{idp.base}/token",
        jwks_uri=f"{idp.base}/jwks",
        read_timeout=HELD_READ_TIMEOUT,
    )
    idp.token = "hold"
    return campaign


@pytest.fixture
def other_idp():
    with LoopbackIdP() as server:
        yield server


@pytest.fixture
def other_campaign(other_account, other_idp):
    integration = OAuthIntegrationFactory(
        account=other_account,
        issuer=other_idp.base,
        token_endpoint=f"{other_idp.base}/token",
        jwks_uri=f"{other_idp.base}/jwks",
    )
    return make_form_campaign(account=other_account, slug="other", oauth_integration=integration)


class HeldLogin(threading.Thread):
    """A participant back from the IdP whose callback waits on the IdP's token endpoint: one web
    thread held."""

    def __init__(self, campaign) -> None:
        super().__init__(daemon=True)
        self.browser = Client()
        self.started = login_start(self.browser, campaign)
        self.response = None

    def run(self) -> None:
        try:
            self.response = callback(self.browser, self.started)
        finally:
            connections.close_all()


def wait_until(condition, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def hold_logins(campaign, idp, count: int) -> list[HeldLogin]:
    held = []
    for number in range(1, count + 1):
        login = HeldLogin(campaign)
        login.start()
        held.append(login)
        assert wait_until(lambda n=number: idp.calls["token"] == n), "at the IdP"
    return held


def let_go(idp, held: list[HeldLogin]) -> None:
    for login in held:
        idp.let_go()
        login.join(30)
        assert login.response is not None and login.response.status_code == 503


@pytest.fixture(params=["local memory", "redis"])
def cache_backend(request):
    """The slots in the local-memory cache (one process), and in Redis as in production."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")


@pytest.mark.django_db(transaction=True)
def test_logins_over_the_cap_fail_fast_without_calling_the_idp_and_others_go_on(
    cache_backend, hanging, idp, other_campaign, other_idp
):
    held = hold_logins(hanging, idp, CAP)

    for _ in range(OVER):
        started = time.monotonic()
        response = log_in(Client(), hanging, idp)
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert "The sign-in service is not available right now" in response.text
        assert time.monotonic() - started < HELD_READ_TIMEOUT / 2  # it did not wait its turn
    assert idp.calls["token"] == CAP  # the extra logins never reached the IdP
    busy = LoginAttempt.objects.filter(error_code="idp_busy")
    assert busy.count() == OVER
    assert set(busy.values_list("failed_step", flat=True)) == {"token"}
    assert not SignInAlert.objects.exists()  # the IdP's trouble, not the configuration's

    # Another customer's participant logs in meanwhile, while the held calls still wait.
    assert log_in(Client(), other_campaign, other_idp).status_code == 303
    assert all(login.is_alive() and login.response is None for login in held)

    let_go(idp, held)
    idp.token = "ok"
    # Every slot was given back.
    for _ in range(CAP):
        assert log_in(Client(), hanging, idp).status_code == 303


@pytest.mark.django_db(transaction=True)
def test_with_the_cache_down_each_process_still_caps_its_own_calls(settings, hanging, idp):
    # Nothing listens on port 1: every cache call fails at once.
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    held = hold_logins(hanging, idp, CAP)

    response = log_in(Client(), hanging, idp)

    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert idp.calls["token"] == CAP
    let_go(idp, held)


# ---------------------------------------------------------------------------- the slots
def _hold_slot(seconds: float, holding: threading.Event) -> threading.Thread:
    def hold():
        with idp_call_slot(integration_id=7, hold_seconds=30):
            holding.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert holding.wait(10)
    return thread


def test_a_burst_over_the_cap_waits_for_a_slot_while_the_idp_answers_quickly(settings):
    settings.IDP_MAX_CONCURRENT_CALLS = 1
    holder = _hold_slot(0.1, threading.Event())  # a quick answer frees the slot

    started = time.monotonic()
    entered = False
    with idp_call_slot(integration_id=7, hold_seconds=30):
        entered = True  # it got the slot instead of failing with IdPBusyError
    waited = time.monotonic() - started

    holder.join()
    assert entered
    assert waited < SLOW_AFTER  # it waited for the quick answer, not for an IdP deemed slow


def test_over_the_cap_a_login_fails_at_once_when_the_idp_is_slow(settings):
    settings.IDP_MAX_CONCURRENT_CALLS = 1
    holder = _hold_slot(SLOW_AFTER + 1.5, threading.Event())
    time.sleep(SLOW_AFTER + 0.2)  # the holder has waited on the IdP for more than SLOW_AFTER

    started = time.monotonic()
    with pytest.raises(IdPBusyError), idp_call_slot(integration_id=7, hold_seconds=30):
        pass
    assert time.monotonic() - started < SLOW_AFTER  # no waiting for a slot that will not free

    holder.join()


def test_an_idp_that_was_slow_lately_is_not_waited_for(settings):
    settings.IDP_MAX_CONCURRENT_CALLS = 1
    _hold_slot(SLOW_AFTER + 0.3, threading.Event()).join()  # a slow answer
    holder = _hold_slot(2.0, threading.Event())  # a recent holder, of an IdP known to be slow

    started = time.monotonic()
    with pytest.raises(IdPBusyError), idp_call_slot(integration_id=7, hold_seconds=30):
        pass
    assert time.monotonic() - started < SLOW_AFTER

    holder.join()


def test_a_slot_given_back_within_its_lease_is_freed_in_one_round_trip(settings, redis_round_trips):
    settings.IDP_MAX_CONCURRENT_CALLS = 1
    cache.get("connect")  # the connection's own handshake is not counted
    before = redis_round_trips()
    with idp_call_slot(integration_id=7, hold_seconds=30):
        pass
    assert redis_round_trips() - before == 2  # taken, then given back: no read of the slot
    with idp_call_slot(integration_id=7, hold_seconds=30):
        pass  # free again: over the cap of one this would wait, then raise IdPBusyError


def test_a_slot_whose_lease_ran_out_is_left_to_the_login_that_took_it_since(settings):
    settings.IDP_MAX_CONCURRENT_CALLS = 1
    slot_key = f"idp-bulkhead:{_MACHINE}:7:0"
    with idp_call_slot(integration_id=7, hold_seconds=1):
        time.sleep(1.2)  # the IdP outlived the lease: the cache let the slot go
        holding, done = threading.Event(), threading.Event()

        def later_login():
            with idp_call_slot(integration_id=7, hold_seconds=30):
                holding.set()
                done.wait(10)

        other = threading.Thread(target=later_login, daemon=True)
        other.start()
        assert holding.wait(10)
        theirs = cache.get(slot_key)
    # Giving back the expired slot left the later login's alone.
    assert cache.get(slot_key) == theirs is not None
    done.set()
    other.join()
    assert cache.get(slot_key) is None
