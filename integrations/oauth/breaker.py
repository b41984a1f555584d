"""A per-integration circuit breaker on the IdP's token endpoint (RF-04), with a half-open trial.

When an IdP's token endpoint keeps failing (timeouts, refused connections, 5xx), every new
participant would wait for the same failure and we would keep hammering a service that is
already down. After `IDP_BREAKER_FAILURES` consecutive failures of one integration the circuit
opens for `IDP_BREAKER_OPEN_SECONDS`: login start shows "the login service is unavailable" (with
"continue without logging in" where the campaign allows it) and callbacks fail at once, without
calling the IdP.

When that time is up the circuit is half-open: the next callback is the one trial call, while
everyone else still gets the paused page. If the IdP answers, the circuit closes; if it fails
again, the circuit opens for another period. So the logins that waited do not all rush an IdP
that may still be down. A trial that never reports back (its process died) is given up after
its own time budget, and the next callback tries. Any answer of the token endpoint that is not
an outage (even a refused code) closes the circuit and resets the count.

The state lives in the default cache, so every web process shares it (Redis in production). A
cache that fails never blocks a login: the breaker then simply does not trip.
"""

import logging
import math
from enum import StrEnum

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# How long a circuit that opened is remembered, waiting for its trial, when no login comes.
TRIPPED_MEMORY_SECONDS = 3600


class Admission(StrEnum):
    # Call the IdP.
    CLOSED = "closed"
    # Call it: this is the half-open circuit's one trial.
    TRIAL = "trial"
    # Do not call it.
    OPEN = "open"


def _failures_key(integration_id: int) -> str:
    return f"idp-breaker:failures:{integration_id}"


def _open_key(integration_id: int) -> str:
    return f"idp-breaker:open:{integration_id}"


def _tripped_key(integration_id: int) -> str:
    # Opened, and not yet closed by an answer: half-open once the open key has expired.
    return f"idp-breaker:tripped:{integration_id}"


def _trial_key(integration_id: int) -> str:
    return f"idp-breaker:trial:{integration_id}"


def circuit_is_open(*, integration_id: int) -> bool:
    """Logins with the integration pause: its circuit is open, or half-open with its trial
    under way."""
    keys = [_open_key(integration_id), _tripped_key(integration_id), _trial_key(integration_id)]
    try:
        state = cache.get_many(keys)
    # Cache clients raise their own errors (redis.exceptions.*): a login must not depend on them.
    except Exception:
        logger.warning("IdP circuit breaker not checked: the cache is unavailable.", exc_info=True)
        return False
    return keys[0] in state or (keys[1] in state and keys[2] in state)


def circuit_admit(*, integration_id: int, trial_seconds: float) -> Admission:
    """May this callback call the IdP? In a half-open circuit, only the first one may (for at
    most `trial_seconds`, the call's own budget)."""
    open_key, tripped_key = _open_key(integration_id), _tripped_key(integration_id)
    try:
        state = cache.get_many([open_key, tripped_key])
        if open_key in state:
            return Admission.OPEN
        if tripped_key not in state:
            return Admission.CLOSED
        if cache.add(_trial_key(integration_id), 1, timeout=math.ceil(trial_seconds)):
            logger.info("IdP circuit half-open, one trial call: integration=%s", integration_id)
            return Admission.TRIAL
    except Exception:
        logger.warning("IdP circuit breaker not checked: the cache is unavailable.", exc_info=True)
        return Admission.CLOSED
    return Admission.OPEN


def circuit_failure(*, integration_id: int) -> bool:
    """Count one failure of the integration's token endpoint; True when the circuit opens (or
    opens again: the trial failed)."""
    key = _failures_key(integration_id)
    # The count forgets failures that are further apart than the open period: two timeouts an
    # hour apart are not an outage.
    window = settings.IDP_BREAKER_OPEN_SECONDS * 2
    try:
        # Opened before and not closed since: no count, it opens again at once.
        again = cache.get(_tripped_key(integration_id)) is not None
        if not again:
            cache.add(key, 0, timeout=window)
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=window)
                count = 1
            if count < settings.IDP_BREAKER_FAILURES:
                return False
        cache.set(_open_key(integration_id), True, timeout=settings.IDP_BREAKER_OPEN_SECONDS)
        cache.set(_tripped_key(integration_id), True, timeout=TRIPPED_MEMORY_SECONDS)
        cache.delete_many([key, _trial_key(integration_id)])
    except Exception:
        logger.warning("IdP failure not counted: the cache is unavailable.", exc_info=True)
        return False
    logger.warning(
        "IdP circuit opened: integration=%s %s open_seconds=%s",
        integration_id,
        "again (the trial failed)" if again else f"failures={count}",
        settings.IDP_BREAKER_OPEN_SECONDS,
    )
    return True


def circuit_success(*, integration_id: int, trial: bool = False) -> None:
    """The token endpoint answered: the failures so far were not an outage, and a half-open
    circuit closes."""
    try:
        cache.delete_many(
            [
                _failures_key(integration_id),
                _tripped_key(integration_id),
                _trial_key(integration_id),
            ]
        )
    except Exception:
        logger.warning("IdP success not recorded: the cache is unavailable.", exc_info=True)
        return
    if trial:
        logger.info("IdP circuit closed, the trial was answered: integration=%s", integration_id)


def circuit_trial_abandon(*, integration_id: int) -> None:
    """The trial did not call the IdP after all: the next callback may be the trial."""
    try:
        cache.delete(_trial_key(integration_id))
    except Exception:
        logger.warning("IdP circuit trial not given up: it will expire.", exc_info=True)
