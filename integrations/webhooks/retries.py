"""When to try a failed delivery again (the Standard Webhooks example schedule, with jitter)."""

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

# Delay before attempt n+1 after attempt n failed; attempt 1 goes out at once. Ten attempts
# over about 3.1 days, then the delivery is marked failed.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# ±10 %: spreads the retries of a burst that failed together (receiver restarted).
JITTER = 0.1
# A Retry-After further away than this is not honoured beyond it.
RETRY_AFTER_CAP = timedelta(hours=24)
# Answers whose Retry-After says when the receiver will take deliveries again.
THROTTLE_STATUSES = frozenset({429, 502, 503, 504})

_random = random.SystemRandom()


def retry_delay(*, attempts_made: int) -> timedelta | None:
    """The delay before the next attempt, or None when `attempts_made` exhausted the schedule."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[attempts_made - 1].total_seconds()
    return timedelta(seconds=base * _random.uniform(1 - JITTER, 1 + JITTER))


def retry_after(value: str | None, *, now: datetime) -> timedelta | None:
    """A `Retry-After` header (seconds or an HTTP date) as a delay, capped; None if absent or
    unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:  # an HTTP date is GMT
            return None
        delay = moment - now
    return max(timedelta(0), min(delay, RETRY_AFTER_CAP))
