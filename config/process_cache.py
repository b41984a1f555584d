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
"""

import secrets
import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.core.cache import cache, caches
from django.core.cache.backends.dummy import DummyCache
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction

V = TypeVar("V")

TOKEN_SECONDS = 1.0


class ProcessCache(Generic[V]):
    def __init__(self, name: str, *, max_entries: int, max_age: float) -> None:
        self.generation_key = f"process-cache:{name}:generation"
        self.max_entries = max_entries
        self.max_age = max_age
        self._entries: dict[Hashable, tuple[str, float, V]] = {}
        self._lock = threading.Lock()
        # (token, when it was read): the token as this process last saw it.
        self._token: tuple[str, float] = ("", float("-inf"))

    def get(self, key: Hashable, load: Callable[[], V | None]) -> V | None:
        """The value kept for `key`, or `load()`'s (kept unless None). Shared by every thread
        of the process: callers must treat it as read-only."""
        generation = self._generation()
        entry = self._entries.get(key)
        if entry is not None and entry[0] == generation and time.monotonic() < entry[1]:
            return entry[2]
        value = load()
        if value is not None:
            shared = not isinstance(caches["default"], LocMemCache | DummyCache)
            max_age = self.max_age if shared else min(self.max_age, TOKEN_SECONDS)
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = (generation, time.monotonic() + max_age, value)
        return value

    def changed(self) -> None:
        """Make every process load again: now, and again when the transaction commits."""
        self._new_generation()
        transaction.on_commit(self._new_generation)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def _generation(self) -> str:
        token, read_at = self._token
        now = time.monotonic()
        if now - read_at < TOKEN_SECONDS:
            return token
        generation = cache.get(self.generation_key)
        if generation is None:
            # A cleared or restarted cache: nobody can tell what changed meanwhile, so start anew.
            generation = secrets.token_hex(8)
            if not cache.add(self.generation_key, generation, timeout=None):
                generation = cache.get(self.generation_key) or generation
        self._token = (generation, now)
        return generation

    def _new_generation(self) -> None:
        generation = secrets.token_hex(8)
        cache.set(self.generation_key, generation, timeout=None)
        self._token = (generation, time.monotonic())
