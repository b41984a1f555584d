"""A bulkhead per integration: at most IDP_MAX_CONCURRENT_CALLS logins of one integration talk to
its IdP at the same time (token, JWKS, profile), across all web processes.

Without it, one customer's IdP that accepts connections and never answers held every web thread
for its read timeout, and every other customer's campaign waited behind it. A login over the cap
fails at once, without calling the IdP ("the sign-in service is not available right now", 503
with Retry-After): the hanging IdP costs its own campaigns, not the node.

The slots are keys in the shared cache (Redis in production), `idp-bulkhead:<integration>:<n>`
for n below the cap, each taken with an atomic add of a random token for at most `hold_seconds`
(the login's IdP time budget, past which the calls have been cut anyway) and given back at the
end. A process killed mid-call keeps its slot until that lease runs out. While the cache cannot
be reached, each process counts in a semaphore of its own instead: the cap then holds per
process (N per integration in each web process), not across them.
"""

import contextlib
import logging
import math
import random
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)
_random = random.SystemRandom()


class IdPBusyError(Exception):
    """Every slot of the integration is taken: do not call its IdP now."""


@dataclass(frozen=True)
class _Slot:
    key: str = ""
    token: str = ""
    semaphore: threading.BoundedSemaphore | None = None


def calls_cap() -> int:
    return max(1, int(settings.IDP_MAX_CONCURRENT_CALLS))


@contextlib.contextmanager
def idp_call_slot(*, integration_id: int, hold_seconds: float) -> Iterator[None]:
    """Hold one of the integration's slots while the block calls its IdP; raises IdPBusyError
    at once, before the block, when all are taken."""
    slot = _take(integration_id, hold_seconds=hold_seconds)
    try:
        yield
    finally:
        _give_back(slot)


def _take(integration_id: int, *, hold_seconds: float) -> _Slot:
    cap = calls_cap()
    token = secrets.token_hex(8)
    first = _random.randrange(cap)  # spreads the adds when several slots are free
    try:
        for n in range(cap):
            key = f"idp-bulkhead:{integration_id}:{(first + n) % cap}"
            if cache.add(key, token, timeout=math.ceil(hold_seconds)):
                return _Slot(key=key, token=token)
    # Cache clients raise their own errors (redis.exceptions.*): a login must not depend on them.
    except Exception:
        logger.warning(
            "IdP bulkhead counted in this process only: the cache is unavailable.", exc_info=True
        )
        semaphore = _process_semaphore(integration_id, cap)
        if semaphore.acquire(blocking=False):
            return _Slot(semaphore=semaphore)
    raise IdPBusyError(f"integration {integration_id}: {cap} calls to its IdP under way")


def _give_back(slot: _Slot) -> None:
    if slot.semaphore is not None:
        slot.semaphore.release()
        return
    try:
        # Only our own: a slot whose lease ran out may be someone else's by now.
        if cache.get(slot.key) == slot.token:
            cache.delete(slot.key)
    except Exception:
        logger.warning("IdP bulkhead slot not given back: its lease will end it.", exc_info=True)


_semaphores: dict[tuple[int, int], threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


def _process_semaphore(integration_id: int, cap: int) -> threading.BoundedSemaphore:
    with _semaphores_lock:
        return _semaphores.setdefault((integration_id, cap), threading.BoundedSemaphore(cap))
