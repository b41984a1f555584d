"""A bulkhead per integration: at most IDP_MAX_CONCURRENT_CALLS logins of one integration talk to
its IdP at the same time (token, JWKS, profile), across all web processes of a machine.

Without it, one customer's IdP that accepts connections and never answers held every web thread
for its read timeout, and every other customer's campaign waited behind it. A login over the cap
fails without calling the IdP ("the sign-in service is not available right now", 503 with
Retry-After): the hanging IdP costs its own campaigns, not the node.

Over the cap, a login fails at once when the IdP is slow: a login holding a slot has waited on
it for more than SLOW_AFTER, or one did in the last SLOW_REMEMBERED seconds. While the IdP
answers quickly the slots turn over, and a login over the cap (a burst of a busy campaign)
waits for a free one, for up to WAIT_AT_MOST, instead of failing. So a busy customer with a
quick IdP is not turned away, and a hanging IdP holds the cap's threads, plus a second at most
for each login that comes in as it starts to hang.

Per machine, because what it protects is a machine's web threads: a customer's logins may still
use more machines as the platform grows, and a hanging IdP holds the cap's threads on each. The
slots are keys in the shared cache (Redis in production), `idp-bulkhead:<host>:<integration>:<n>`
for n below the cap, each taken with an atomic add of the time it was taken, for at most
`hold_seconds` (the login's IdP time budget, past which the calls have been cut anyway), and
given back at the end. A process killed mid-call keeps its slot until that lease runs out.
While the cache cannot be reached, each process counts in a semaphore of its own instead, and
a login over the cap fails at once: the cap then holds per process (N per integration in each
web process), not across them.
"""

import contextlib
import logging
import math
import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)
_random = random.SystemRandom()

# A login holding a slot for longer than this means the IdP is slow (or hangs).
SLOW_AFTER = 1.0
# The longest a login over the cap waits for a slot while the IdP answers quickly.
WAIT_AT_MOST = 1.0
# An IdP that was slow is taken for slow this long: logins over the cap no longer wait for it.
SLOW_REMEMBERED = 30
_POLL_SECONDS = 0.02
# The web processes of one machine (or container) share its slots.
_MACHINE = socket.gethostname()


class IdPBusyError(Exception):
    """Every slot of the integration is taken: do not call its IdP now."""


@dataclass(frozen=True)
class _Slot:
    key: str = ""
    slow_key: str = ""
    # What the slot's key holds: when it was taken (seconds since the epoch, as every process
    # of every machine reads the same clock), and which login took it.
    taken_at: float = 0.0
    # Until when (this process's monotonic clock) the key is certainly still ours: the cache
    # started its lease of at least `hold_seconds` after this process stamped it.
    lease_until: float = 0.0
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
    keys = [f"idp-bulkhead:{_MACHINE}:{integration_id}:{n}" for n in range(cap)]
    _random.shuffle(keys)  # spreads the adds when several slots are free
    deadline = time.monotonic() + WAIT_AT_MOST
    try:
        while True:
            taken_at = time.time()
            for key in keys:
                lease_until = time.monotonic() + hold_seconds
                if cache.add(key, taken_at, timeout=math.ceil(hold_seconds)):
                    return _Slot(
                        key=key,
                        slow_key=_slow_key(integration_id),
                        taken_at=taken_at,
                        lease_until=lease_until,
                    )
            if time.monotonic() >= deadline or _idp_slow(integration_id, keys, now=taken_at):
                break
            time.sleep(_POLL_SECONDS)
    # Cache clients raise their own errors (redis.exceptions.*): a login must not depend on them.
    except Exception:
        logger.warning(
            "IdP bulkhead counted in this process only: the cache is unavailable.", exc_info=True
        )
        semaphore = _process_semaphore(integration_id, cap)
        if semaphore.acquire(blocking=False):
            return _Slot(semaphore=semaphore)
    raise IdPBusyError(f"integration {integration_id}: {cap} calls to its IdP under way")


def _slow_key(integration_id: int) -> str:
    return f"idp-bulkhead:slow:{integration_id}"


def _idp_slow(integration_id: int, keys: list[str], *, now: float) -> bool:
    """The IdP is slow, or hangs, so waiting for a slot would only hold one more thread: a login
    holding a slot has waited on it for more than SLOW_AFTER, or one did lately."""
    slow_key = _slow_key(integration_id)
    state = cache.get_many([slow_key, *keys])
    if slow_key in state:
        return True
    if any(now - at > SLOW_AFTER for at in state.values() if isinstance(at, float)):
        cache.set(slow_key, True, timeout=SLOW_REMEMBERED)
        return True
    return False


def _give_back(slot: _Slot) -> None:
    if slot.semaphore is not None:
        slot.semaphore.release()
        return
    try:
        if time.time() - slot.taken_at > SLOW_AFTER:
            cache.set(slot.slow_key, True, timeout=SLOW_REMEMBERED)
        # Only our own: a slot whose lease ran out may be someone else's by now. Within the
        # lease it is ours without asking (one round trip instead of two, on every login).
        if time.monotonic() < slot.lease_until or cache.get(slot.key) == slot.taken_at:
            cache.delete(slot.key)
    except Exception:
        logger.warning("IdP bulkhead slot not given back: its lease will end it.", exc_info=True)


_semaphores: dict[tuple[int, int], threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


def _process_semaphore(integration_id: int, cap: int) -> threading.BoundedSemaphore:
    with _semaphores_lock:
        return _semaphores.setdefault((integration_id, cap), threading.BoundedSemaphore(cap))
