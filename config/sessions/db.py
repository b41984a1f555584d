"""`SESSION_ENGINE = "config.sessions.db"`: Django's database sessions (see `__init__`)."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.db import DatabaseError, IntegrityError, OperationalError, router, transaction


class SessionStore(db.SessionStore):
    def exists(self, session_key):
        """Asked by Django only before it creates a session, to draw another key when the one
        it drew is taken: answered without a lookup, since `save(must_create=True)` refuses a
        taken key by itself (CreateError) and `create()` then draws another."""
        return False

    def save(self, must_create=False):
        """Django's save, in one statement outside a transaction (see `__init__`). Same errors
        as Django's: CreateError when the key is taken, UpdateError when the row is gone."""
        if self.session_key is None:
            return self.create()
        using = router.db_for_write(self.get_model_class())
        if not transaction.get_autocommit(using):
            return super().save(must_create)
        if must_create and not self.accessed:
            # A new key holds nothing: never loaded (as Django's save), not even by the expiry
            # that `create_model_instance` reads.
            self.clear()
        # An existing session is loaded first when this request has not read it, as Django's.
        obj = self.create_model_instance(dict(self.items()))
        try:
            obj.save(force_insert=must_create, force_update=not must_create, using=using)
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except OperationalError:
            # The database is unreachable: not "the session was deleted meanwhile" (which
            # Django answers with a 400). Callers see the outage for what it is
            # (participants/outage.py).
            raise
        except DatabaseError:
            # A forced update that found no row: deleted by another request meanwhile.
            if not must_create:
                raise UpdateError from None
            raise
