"""`SESSION_ENGINE = "config.sessions.db"`: Django's database sessions (see `__init__`)."""

from django.contrib.sessions.backends import db

from . import NewKeyWithoutLookupMixin


class SessionStore(NewKeyWithoutLookupMixin, db.SessionStore):
    pass
