"""The time source of code that caches or compares with the present, passed in so that tests
can move time without touching the process's own clock.

`Clock` is what such code asks for; `SYSTEM_CLOCK` is the real one (Django's aware `now()`, the
monotonic clock for intervals), the default wherever a clock is taken.
"""

import time
from datetime import datetime
from typing import Protocol

from django.utils import timezone


class Clock(Protocol):
    def now(self) -> datetime:
        """The current date and time (aware, as `django.utils.timezone.now()`)."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going back: for intervals and ages."""


class SystemClock:
    def now(self) -> datetime:
        return timezone.now()

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()
