import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.utils import translation

from participants.ratelimit import (
    Rate,
    RateError,
    client_address,
    rate_limit_hit,
    rate_limited,
    request_rate_limit,
)
from tests.ops.settings_module import reload_settings

# The start of a minute, so that windows are easy to reason about.
T0 = 1_800_000_000.0 - (1_800_000_000 % 60)


@pytest.fixture
def login_limits(settings):
    settings.RATE_LIMITS = {"login": {"ip": "3/m", "campaign": "5/m"}}
    settings.TRUSTED_PROXY_COUNT = 0


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("30/m", Rate(30, 60)),
        ("600/m", Rate(600, 60)),
        ("5/s", Rate(5, 1)),
        ("100/10m", Rate(100, 600)),
        (" 2 / h ", Rate(2, 3600)),
        ("1/d", Rate(1, 86400)),
    ],
)
def test_rates_are_read_from_settings_text(text, rate):
    assert Rate.parse(text) == rate


@pytest.mark.parametrize("text", ["", "30", "30/", "0/m", "30/0m", "30/w", "-1/m", "x/m"])
def test_malformed_rates_are_refused(text):
    with pytest.raises(RateError):
        Rate.parse(text)


THREE_PER_MINUTE = Rate(3, 60)


@pytest.mark.parametrize("text", ["30/m", "100/10m", " 5 / s "])
def test_every_rate_the_settings_accept_can_be_parsed(text):
    assert reload_settings(RATE_LIMIT_LOGIN_PER_IP=text).RATE_LIMITS["login"]["ip"] == text
    Rate.parse(text)


@pytest.mark.parametrize("text", ["30", "0/m", "30/w", "30 per minute"])
def test_a_malformed_rate_stops_start_up_naming_the_variable(text):
    with pytest.raises(ImproperlyConfigured, match="RATE_LIMIT_LOGIN_PER_CAMPAIGN"):
        reload_settings(RATE_LIMIT_LOGIN_PER_CAMPAIGN=text)


def _hits(backend, n, *, now, key="login:ip:203.0.113.9", rate=THREE_PER_MINUTE):
    return [rate_limit_hit(cache=backend, key=key, rate=rate, now=now) for _ in range(n)]


@pytest.fixture(params=["locmem", "redis"])
def backend(request):
    if request.param == "redis":
        return request.getfixturevalue("redis_cache")
    return caches["default"]


def test_hits_up_to_the_limit_are_allowed_then_refused(backend):
    results = _hits(backend, 5, now=T0 + 10)
    assert [r.allowed for r in results] == [True, True, True, False, False]
    assert [r.count for r in results] == [1, 2, 3, 4, 5]
    assert results[-1].retry_after_seconds == 50


def test_a_new_window_starts_from_zero(backend):
    _hits(backend, 4, now=T0 + 59)
    [last_second] = _hits(backend, 1, now=T0 + 59.5)
    assert not last_second.allowed
    assert last_second.retry_after_seconds == 1
    results = _hits(backend, 3, now=T0 + 60)
    assert all(r.allowed for r in results)
    assert results[0].count == 1


def test_keys_are_counted_apart(backend):
    _hits(backend, 4, now=T0, key="login:ip:203.0.113.9")
    [other] = _hits(backend, 1, now=T0, key="login:ip:198.51.100.1")
    assert other.allowed


def test_two_processes_share_the_count_through_redis(redis_cache):
    from django.core.cache.backends.redis import RedisCache

    from tests.ops.conftest import TEST_REDIS_URL

    other_process = RedisCache(TEST_REDIS_URL, {})
    _hits(redis_cache, 2, now=T0)
    [third] = _hits(other_process, 1, now=T0)
    [fourth] = _hits(redis_cache, 1, now=T0)
    assert third.allowed and third.count == 3
    assert not fourth.allowed


def test_counters_expire_after_their_window(redis_cache):
    _hits(redis_cache, 1, now=T0 + 30, rate=Rate(3, 60))
    [key] = redis_cache._cache.get_client().keys("*ratelimit*")
    ttl = redis_cache._cache.get_client().ttl(key)
    assert 0 < ttl <= 31


# ---------------------------------------------------------------------------- client address
@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "proxies", "expected"),
    [
        ("203.0.113.9", "", 0, "203.0.113.9"),
        # Without trusted proxies, X-Forwarded-For is whatever the client wrote.
        ("203.0.113.9", "1.2.3.4", 0, "203.0.113.9"),
        # One proxy: it appended the address it saw; what the client sent is further left.
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", 1, "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7", 1, "198.51.100.7"),
        # Two proxies (CDN, then load balancer).
        ("10.0.0.2", "1.2.3.4, 198.51.100.7, 10.0.0.1", 2, "198.51.100.7"),
        # Fewer hops than proxies: the left-most, all of them written by our proxies.
        ("10.0.0.2", "198.51.100.7", 2, "198.51.100.7"),
        # A proxy that did not add the header: the peer address.
        ("10.0.0.2", "", 1, "10.0.0.2"),
        # IPv6 clients are counted per /64.
        ("2001:db8:1:2:3:4:5:6", "", 0, "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "", 0, "203.0.113.9"),
        ("10.0.0.2", "not-an-address", 1, "not-an-address"),
    ],
)
def test_client_address(rf, remote_addr, forwarded_for, proxies, expected):
    request = rf.get("/", REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_FOR=forwarded_for)
    assert client_address(request, trusted_proxy_count=proxies) == expected


# ---------------------------------------------------------------------------- the decorator
def _login_view(request, slug):
    return HttpResponse(f"login for {slug}")


login_view = rate_limited("login", per=("ip", "campaign"), campaign=lambda request, slug: slug)(
    _login_view
)


def test_decorator_lets_requests_through_until_the_ip_limit(rf, login_limits):
    for _ in range(3):
        response = login_view(rf.get("/", REMOTE_ADDR="203.0.113.9"), slug="summer")
        assert response.status_code == 200
    response = login_view(rf.get("/", REMOTE_ADDR="203.0.113.9"), slug="summer")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "no-cache" in response["Cache-Control"]
    assert "Too many login attempts" in response.content.decode()
    # Another address still gets in.
    assert login_view(rf.get("/", REMOTE_ADDR="198.51.100.1"), slug="summer").status_code == 200


def test_decorator_limits_a_campaign_across_addresses(rf, login_limits):
    statuses = [
        login_view(rf.get("/", REMOTE_ADDR=f"203.0.113.{i}"), slug="summer").status_code
        for i in range(7)
    ]
    assert statuses == [200] * 5 + [429] * 2
    # Another campaign is not affected.
    assert login_view(rf.get("/", REMOTE_ADDR="203.0.113.99"), slug="winter").status_code == 200


def test_decorator_behind_a_proxy_counts_the_forwarded_client(rf, login_limits, settings):
    settings.TRUSTED_PROXY_COUNT = 1

    def request_from(client):
        return rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=client)

    statuses = [login_view(request_from("198.51.100.7"), slug="s").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert login_view(request_from("198.51.100.8"), slug="s").status_code == 200


def test_decorator_with_ip_only_needs_no_campaign(rf, login_limits):
    callback = rate_limited("login", per=("ip",))(lambda request: HttpResponse("ok"))
    statuses = [callback(rf.get("/", REMOTE_ADDR="203.0.113.9")).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_decorator_skips_the_campaign_limit_when_the_campaign_is_unknown(rf, login_limits):
    view = rate_limited("login", per=("campaign",), campaign=lambda request: None)(
        lambda request: HttpResponse("ok")
    )
    statuses = [view(rf.get("/", REMOTE_ADDR=f"203.0.113.{i}")).status_code for i in range(8)]
    assert statuses == [200] * 8


def test_decorator_refuses_a_campaign_limit_without_a_campaign_function():
    with pytest.raises(ValueError, match="campaign="):
        rate_limited("login", per=("ip", "campaign"))
    with pytest.raises(ValueError, match="Unknown"):
        rate_limited("login", per=("user",))


def test_a_cache_outage_lets_participants_in(rf, login_limits, broken_cache, caplog):
    statuses = [
        login_view(rf.get("/", REMOTE_ADDR="203.0.113.9"), slug="summer").status_code
        for _ in range(5)
    ]
    assert statuses == [200] * 5
    assert "cache is unavailable" in caplog.text


def test_exceeding_is_logged_without_the_address(rf, login_limits, caplog):
    for _ in range(4):
        login_view(rf.get("/", REMOTE_ADDR="203.0.113.9"), slug="summer")
    [record] = [r for r in caplog.records if r.name == "participants.ratelimit"]
    assert record.step == "login"
    assert record.rate_limit == "ip"
    assert "203.0.113.9" not in caplog.text


def test_request_rate_limit_takes_an_explicit_time(rf, login_limits):
    request = rf.get("/")
    for _ in range(3):
        assert request_rate_limit(request, scope="login", keys={"ip": "a"}, now=T0) is None
    exceeded = request_rate_limit(request, scope="login", keys={"ip": "a"}, now=T0 + 1)
    assert exceeded is not None and exceeded.retry_after_seconds == 59
    assert request_rate_limit(request, scope="login", keys={"ip": "a"}, now=T0 + 60) is None


def test_the_page_is_shown_in_french(rf, login_limits):
    for _ in range(3):
        login_view(rf.get("/", REMOTE_ADDR="203.0.113.9"), slug="summer")
    with translation.override("fr"):
        response = login_view(rf.get("/", REMOTE_ADDR="203.0.113.9"), slug="summer")
    assert response.status_code == 429
    assert '<html lang="fr">' in response.content.decode()


def test_the_page_on_a_real_redis(rf, login_limits, redis_cache):
    statuses = [
        login_view(rf.get("/", REMOTE_ADDR="203.0.113.9"), slug="summer").status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_a_requests_limits_are_counted_in_one_round_trip_on_redis(
    rf, login_limits, redis_round_trips
):
    caches["default"].get("connect")  # the connection's own handshake is not counted
    before = redis_round_trips()
    statuses = [
        login_view(rf.get("/", REMOTE_ADDR=f"203.0.113.{i % 2}"), slug="summer").status_code
        for i in range(7)
    ]
    # Both limits hold: three per address, five per campaign.
    assert statuses == [200, 200, 200, 200, 200, 429, 429]
    assert redis_round_trips() - before == 7
