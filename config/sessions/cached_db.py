"""`SESSION_ENGINE = "config.sessions.cached_db"`: Django's cache-fronted database sessions
(see `__init__`)."""

from django.contrib.sessions.backends import cached_db

from . import NewKeyWithoutLookupMixin


class SessionStore(NewKeyWithoutLookupMixin, cached_db.SessionStore):
    pass
