"""`SESSION_ENGINE = "config.sessions.cached_db"`: Django's cache-fronted database sessions
(see `__init__`), which also keep working while the cache is down.

Django's store already reads from the database when the cache read fails, and logs a failed
write; but it then copies what it read back into the cache, and deletes from the cache,
unguarded: with Redis down, every request of a participant who has a session ended in a 500.
Here those two calls are guarded too, so the database alone serves until Redis is back.
"""

import logging

from django.contrib.sessions.backends import cached_db

from config.sessions import NewKeyWithoutLookupMixin, database_save

logger = logging.getLogger(__name__)


class SessionStore(NewKeyWithoutLookupMixin, cached_db.SessionStore):
    def save(self, must_create=False):
        # Django's cached_db save, with the database part in one statement (see `__init__`).
        database_save(self, must_create, super(cached_db.SessionStore, self).save)
        try:
            self._cache.set(self.cache_key, self._session, self.get_expiry_age())
        except Exception:
            logger.exception("Error saving to cache (%s)", self._cache)

    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except Exception:  # unavailable, or a key the backend refuses: the database has it
            data = None
        if data is not None:
            return data
        stored = self._get_session_from_db()
        if not stored:
            return {}
        data = self.decode(stored.session_data)
        try:
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=stored.expire_date))
        except Exception:
            logger.warning("Session not copied to the cache: the cache is unavailable.")
        return data

    def delete(self, session_key=None):
        cached_db.DBStore.delete(self, session_key)  # the row first, as Django does
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        try:
            self._cache.delete(self.cache_key_prefix + session_key)
        except Exception:
            # The cache is down; if it comes back with its data, the copy expires with the
            # session (its timeout), and holds nothing a login added: that goes to the new key.
            logger.warning("Session not deleted from the cache: the cache is unavailable.")
