"""A per-integration circuit breaker on the IdP's token endpoint (RF-04).

When an IdP's token endpoint keeps failing (timeouts, refused connections, 5xx), every new
participant would wait for the same failure and we would keep hammering a service that is
already down. After `IDP_BREAKER_FAILURES` consecutive failures of one integration the circuit
opens for `IDP_BREAKER_OPEN_SECONDS`: login start shows "the login service is unavailable" (with
"continue without logging in" where the campaign allows it) and callbacks fail at once, without
calling the IdP. When the time is up the circuit closes by itself and the next login tries again;
one success resets the count.

The state lives in the default cache, so every web process shares it (Redis in production). A
cache that fails never blocks a login: the breaker then simply does not trip.
"""

import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


def _failures_key(integration_id: int) -> str:
    return f"idp-breaker:failures:{integration_id}"


def _open_key(integration_id: int) -> str:
    return f"idp-breaker:open:{integration_id}"


def circuit_is_open(*, integration_id: int) -> bool:
    try:
        return bool(cache.get(_open_key(integration_id)))
    # Cache clients raise their own errors (redis.exceptions.*): a login must not depend on them.
    except Exception:
        logger.warning("IdP circuit breaker not checked: the cache is unavailable.", exc_info=True)
        return False


def circuit_failure(*, integration_id: int) -> bool:
    """Count one failure of the integration's token endpoint; True when the circuit opens."""
    key = _failures_key(integration_id)
    # The count forgets failures that are further apart than the open period: two timeouts an
    # hour apart are not an outage.
    window = settings.IDP_BREAKER_OPEN_SECONDS * 2
    try:
        cache.add(key, 0, timeout=window)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window)
            count = 1
        if count < settings.IDP_BREAKER_FAILURES:
            return False
        cache.set(_open_key(integration_id), True, timeout=settings.IDP_BREAKER_OPEN_SECONDS)
        cache.delete(key)
    except Exception:
        logger.warning("IdP failure not counted: the cache is unavailable.", exc_info=True)
        return False
    logger.warning(
        "IdP circuit opened: integration=%s failures=%s open_seconds=%s",
        integration_id,
        count,
        settings.IDP_BREAKER_OPEN_SECONDS,
    )
    return True


def circuit_success(*, integration_id: int) -> None:
    """The token endpoint answered: the failures so far were not an outage."""
    try:
        cache.delete(_failures_key(integration_id))
    except Exception:
        logger.warning("IdP success not recorded: the cache is unavailable.", exc_info=True)
