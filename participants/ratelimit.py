"""Rate limits on the public login pages, per client address and per campaign.

Fixed windows counted in the default cache (Redis in production, so every web process shares
the counts). On Redis a request's hits (its address's, its campaign's) are INCRs with their
expiry, all in one round trip (`config.cache.RedisCache.incr_many_with_expiry`); on other caches
the first hit of a window creates its counter with `cache.add` and every hit bumps it with
`cache.incr`, atomic in the local-memory cache too. A fixed window lets a client spend up to
twice the limit across a window boundary; for stopping floods of logins that is good enough, and
it costs one counter per key and window.

Limits are configured in `settings.RATE_LIMITS` (`RATE_LIMIT_LOGIN_PER_IP`,
`RATE_LIMIT_LOGIN_PER_CAMPAIGN`).
"""

import functools
import ipaddress
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.shortcuts import render
from django.utils import translation
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

_RATE = re.compile(r"^\s*(?P<limit>\d+)\s*/\s*(?P<multiple>\d*)\s*(?P<unit>[smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RateError(ValueError):
    pass


@dataclass(frozen=True)
class Rate:
    limit: int
    period_seconds: int

    @classmethod
    def parse(cls, text: str) -> "Rate":
        """`"30/m"` → 30 per minute; `"100/10m"` → 100 per ten minutes."""
        match = _RATE.match(text)
        multiple = int(match["multiple"] or 1) if match else 0
        if not match or int(match["limit"]) < 1 or multiple < 1:
            raise RateError(f"{text!r} is not a rate like '30/m' or '100/10m'.")
        return cls(
            limit=int(match["limit"]), period_seconds=multiple * _UNIT_SECONDS[match["unit"]]
        )


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    count: int
    limit: int
    retry_after_seconds: int


def rate_limit_hit(*, cache, key: str, rate: Rate, now: float) -> RateLimitResult:
    """Count one hit on `key` in the window that contains `now`, and say whether it is allowed."""
    return rate_limit_hits(cache=cache, rates={key: rate}, now=now)[key]


def rate_limit_hits(*, cache, rates: dict[str, Rate], now: float) -> dict[str, RateLimitResult]:
    """`rate_limit_hit` for each key of `rates` ({key: its rate}), in one round trip on Redis."""
    windows = {key: _Window.of(rate, now) for key, rate in rates.items()}
    counters = {key: window.counter(key) for key, window in windows.items()}
    if hasattr(cache, "incr_many_with_expiry"):  # config.cache.RedisCache
        counted = cache.incr_many_with_expiry(
            {counters[key]: window.timeout for key, window in windows.items()}
        )
        counts = {key: counted[counter] for key, counter in counters.items()}
    else:
        counts = {key: _counted(cache, counters[key], windows[key].timeout) for key in rates}
    return {
        key: RateLimitResult(
            allowed=counts[key] <= rate.limit,
            count=counts[key],
            limit=rate.limit,
            retry_after_seconds=max(1, math.ceil(windows[key].end - now)),
        )
        for key, rate in rates.items()
    }


@dataclass(frozen=True)
class _Window:
    number: int
    end: float
    # Kept one second past the window so a late `incr` still finds it; the window number in the
    # key, not the expiry, is what starts a new window.
    timeout: int

    @classmethod
    def of(cls, rate: Rate, now: float) -> "_Window":
        number = int(now // rate.period_seconds)
        end = (number + 1) * rate.period_seconds
        return cls(number=number, end=end, timeout=math.ceil(end - now) + 1)

    def counter(self, key: str) -> str:
        return f"ratelimit:{key}:{self.number}"


def _counted(cache, counter: str, timeout: int) -> int:
    cache.add(counter, 0, timeout=timeout)
    try:
        return cache.incr(counter)
    except ValueError:
        # Expired between add and incr: this hit opens the counter again.
        cache.add(counter, 1, timeout=timeout)
        return 1


def client_address(request, *, trusted_proxy_count: int) -> str:
    """The address of the client, as far as the trusted proxies in front of us can tell.

    With N trusted proxies, each appends the address it received the request from to
    X-Forwarded-For, so the right-most N entries are theirs and the N-th from the right is the
    client: anything further left was written by the client and proves nothing.
    """
    address = request.META.get("REMOTE_ADDR", "")
    if trusted_proxy_count > 0:
        hops = [
            hop.strip()
            for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if hop.strip()
        ]
        if hops:
            address = hops[-min(trusted_proxy_count, len(hops))]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        # One IPv6 subscriber usually holds a whole /64: count the network, not each address.
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def request_rate_limit(
    request, *, scope: str, keys: dict[str, str], now: float | None = None
) -> RateLimitResult | None:
    """Count this request against each of `keys` (`{"ip": …, "campaign": …}`) for `scope`.

    Returns the first exceeded limit, or None when the request may go on. Every key is counted
    even after one is exceeded, so a flood from one address also counts towards its campaign.
    A cache that fails lets the request through: a Redis outage must not lock every participant
    out of every campaign.
    """
    now = time.time() if now is None else now
    kinds = {f"{scope}:{kind}:{value}": kind for kind, value in keys.items()}
    rates = {key: Rate.parse(settings.RATE_LIMITS[scope][kind]) for key, kind in kinds.items()}
    try:
        results = rate_limit_hits(cache=caches["default"], rates=rates, now=now)
    # Cache clients raise their own errors (redis.exceptions.*), not Django ones.
    except Exception:
        logger.warning(
            "Rate limit not checked: the cache is unavailable.",
            exc_info=True,
            extra={"step": scope, "rate_limit": ",".join(keys)},
        )
        return None
    exceeded = None
    for key, kind in kinds.items():
        result = results[key]
        if not result.allowed and exceeded is None:
            exceeded = result
            logger.warning(
                "Rate limit exceeded.",
                extra={
                    "step": scope,
                    "rate_limit": kind,
                    "limit": result.limit,
                    # The campaign, never the address: that is personal data.
                    "campaign": keys.get("campaign"),
                },
            )
    return exceeded


def _language_links(request) -> list[dict]:
    """The same address in each language: asking again later, in French, is still asking."""
    language = translation.get_language()
    links = []
    for code, name in settings.LANGUAGES:
        query = request.GET.copy()
        query["lang"] = code
        links.append(
            {
                "code": code,
                "name": name,
                "url": f"{request.path}?{query.urlencode()}",
                "current": code == language,
            }
        )
    return links


def rate_limited_response(request, result: RateLimitResult):
    """The friendly page shown instead of the login, with `Retry-After`."""
    response = render(
        request,
        "participants/rate_limited.html",
        {
            "retry_after_seconds": result.retry_after_seconds,
            "language_links": _language_links(request),
        },
        status=429,
    )
    response["Retry-After"] = str(result.retry_after_seconds)
    add_never_cache_headers(response)
    return response


CampaignKey = Callable[..., object]


def rate_limited(
    scope: str,
    *,
    per: tuple[str, ...] = ("ip", "campaign"),
    campaign: CampaignKey | None = None,
):
    """Decorate a view so that it answers 429 once `scope`'s limits are exceeded.

    `per` names the limits in `settings.RATE_LIMITS[scope]` to apply. "campaign" needs
    `campaign`, a function of the view's arguments `(request, *args, **kwargs)` returning what
    identifies the campaign (slug or pk); when it returns None, only the other limits apply.
    """
    unknown = set(per) - {"ip", "campaign"}
    if unknown:
        raise ValueError(f"Unknown rate limit kinds: {', '.join(sorted(unknown))}.")
    if "campaign" in per and campaign is None:
        raise ValueError('per=("campaign",) needs campaign=<function of the view arguments>.')

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            keys = {}
            if "ip" in per:
                keys["ip"] = client_address(
                    request, trusted_proxy_count=settings.TRUSTED_PROXY_COUNT
                )
            if "campaign" in per:
                campaign_key = campaign(request, *args, **kwargs)
                if campaign_key is not None:
                    keys["campaign"] = str(campaign_key)
            exceeded = request_rate_limit(request, scope=scope, keys=keys)
            if exceeded is not None:
                return rate_limited_response(request, exceeded)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
