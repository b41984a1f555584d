"""`SESSION_ENGINE = "config.sessions.db"`: Django's database sessions (see `__init__`)."""

from django.contrib.sessions.backends import db

from config.sessions import NewKeyWithoutLookupMixin, database_save


class SessionStore(NewKeyWithoutLookupMixin, db.SessionStore):
    def save(self, must_create=False):
        database_save(self, must_create, super().save)
