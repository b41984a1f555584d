"""`SESSION_ENGINE = "config.sessions.cached_db"`: Django's cache-fronted database sessions
over this project's database store (see `__init__`), which also keep working while the cache is
down.

The class puts Django's `cached_db.SessionStore` first and `config.sessions.db.SessionStore`
after it: Django's cached store calls `super()` for every database step, which then reaches the
one-statement save and the key drawn without a lookup.

Django's store already reads from the database when the cache read fails, and logs a failed
write; but it then copies what it read back into the cache, and deletes from the cache,
unguarded: with Redis down, every request of a participant who has a session ended in a 500.
Here a cache failure in either falls back to the database alone, until Redis is back.
"""

import logging

from django.contrib.sessions.backends import cached_db
from django.db import DatabaseError

from config.sessions import db

logger = logging.getLogger(__name__)


class SessionStore(cached_db.SessionStore, db.SessionStore):
    def save(self, must_create=False):
        if self.session_key is None:
            # A session without a key yet: `create()` draws one and saves through this method
            # with it, the cache's copy included. Django's cached save would then write that
            # copy a second time on its way out (one Redis round trip per new session, that is
            # per login).
            return self.create()
        return super().save(must_create)

    def exists(self, session_key):
        # Nor a cache round trip: see db.SessionStore.exists.
        return db.SessionStore.exists(self, session_key)

    def load(self):
        try:
            return super().load()
        except DatabaseError:
            raise  # the database is the one failing: participants/outage.py answers that
        except Exception:
            # Read from the database, then not copied to the cache (it is unavailable): read
            # again from the database alone.
            logger.warning("Session not copied to the cache: the cache is unavailable.")
            return db.SessionStore.load(self)

    def delete(self, session_key=None):
        try:
            super().delete(session_key)  # the row first, then the cache's copy, as Django does
        except DatabaseError:
            raise
        except Exception:
            # The row is gone; the cache is down. If it comes back with its data, the copy
            # expires with the session (its timeout), and holds nothing a login added: that
            # goes to the new key.
            logger.warning("Session not deleted from the cache: the cache is unavailable.")
