"""Rows every request reads again, kept in each process until anything among them changes.

A `ProcessCache` keeps values in the process's memory, tagged with a *generation*: a random
token in the default cache (Redis in production, so every web process sees the same one).
`changed()` replaces the token, and every process loads again on its next read. A process reads
the token again at most every `TOKEN_SECONDS` (it sees its own changes at once): the reads of a
journey's requests cost no query and, mostly, no cache round trip either, and another process's
change is seen within that second.

`changed()` replaces the token twice: at once, so that the process that wrote sees its own
change, and again when the transaction commits, so that a process which loaded in between (still
reading the old rows) does not keep them. `max_age` bounds what a write that forgot to call
`changed()` (a `QuerySet.update()` in a shell) can leave behind; `max_entries` bounds memory when
keys come from URLs. `None` is never kept, so unknown keys cost a load each time and no memory.

A cache that is not shared between processes (the local-memory default, without `CACHE_URL`)
cannot carry one process's change to the others: there nothing is kept longer than
`TOKEN_SECONDS`, so a change still shows everywhere within that second.

When the cache is unavailable (Redis down), nothing is kept: every read loads from the database
until the cache answers again, and pages and admin saves keep working. A change saved during
the outage cannot be announced, so a process that kept rows from before may show them until
`max_age` (it is logged).
"""

import logging
import secrets
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction

from core.clock import SYSTEM_CLOCK, Clock

logger = logging.getLogger(__name__)

V = TypeVar("V")

TOKEN_SECONDS = 1.0


class ProcessCache(Generic[V]):
    def __init__(
        self, name: str, *, max_entries: int, max_age: float, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.generation_key = f"process-cache:{name}:generation"
        self.max_entries = max_entries
        self.max_age = max_age
        # Where ages and the token's interval are read from (tests pass one they can move).
        self.clock = clock
        self._entries: dict[Hashable, tuple[str, float, V]] = {}
        self._lock = threading.Lock()
        # (token, when it was read): the token as this process last saw it; None while the
        # cache is unavailable.
        self._token: tuple[str | None, float] = ("", float("-inf"))

    def get(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """The value kept for `key`, or `load()`'s (kept unless None). Shared by every thread
        of the process: `load` should return an immutable value (a frozen dataclass), never a
        model instance that a request could change under another's feet."""
        generation = self._generation()
        if generation is None:
            return load()  # the cache is unavailable: nothing is kept meanwhile
        entry = self._entries.get(key)
        if entry is not None and entry[0] == generation and self.clock.monotonic() < entry[1]:
            return entry[2]
        value = load()
        if value is not None:
            shared = not isinstance(caches["default"], LocMemCache | DummyCache)
            max_age = self.max_age if shared else min(self.max_age, TOKEN_SECONDS)
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = (generation, self.clock.monotonic() + max_age, value)
        return value

    def changed(self) -> None:
        """Make every process load again: now, and again when the transaction commits."""
        self._entries.clear()
        self._announce()
        transaction.on_commit(self._announce)

    def forget(self) -> None:
        """Drop what this process keeps, and ask the cache for the token again on the next
        read (a process whose cache was swapped or restarted under it)."""
        with self._lock:
            self._entries.clear()
            self._token = ("", float("-inf"))

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def _generation(self) -> str | None:
        token, read_at = self._token
        now = self.clock.monotonic()
        if now - read_at < TOKEN_SECONDS:
            return token
        try:
            generation = cache.get(self.generation_key)
            if generation is None:
                # A cleared or restarted cache: nobody can tell what changed meanwhile, so
                # start anew.
                generation = secrets.token_hex(8)
                if not cache.add(self.generation_key, generation, timeout=None):
                    generation = cache.get(self.generation_key) or generation
        # Cache clients raise their own errors (redis.exceptions.*), not Django ones.
        except Exception:
            # Asked again in a second, not on every request (a connect timeout each time).
            logger.warning("%s: cache unavailable, reading from the database", self.generation_key)
            self._entries.clear()
            self._token = (None, now)
            return None
        self._token = (generation, now)
        return generation

    def _announce(self) -> None:
        generation = secrets.token_hex(8)
        try:
            cache.set(self.generation_key, generation, timeout=None)
        except Exception:
            logger.warning(
                "%s: cache unavailable, other processes may show the old rows for up to %d s",
                self.generation_key,
                self.max_age,
            )
            self._token = (None, self.clock.monotonic())
            return
        self._token = (generation, self.clock.monotonic())
