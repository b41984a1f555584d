"""`SESSION_ENGINE = "config.sessions.db"`: Django's database sessions (see `__init__`)."""

from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from core.statements import row_get, row_insert, rows_update


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
        if must_create:
            try:
                row_insert(obj)
            except IntegrityError:
                raise CreateError from None
            return
        # OperationalError (the database is unreachable) goes up as it is: not "the session was
        # deleted meanwhile" (which Django answers with a 400). Callers see the outage for what
        # it is (participants/outage.py).
        changed = rows_update(
            self.model,
            {"session_data": obj.session_data, "expire_date": obj.expire_date},
            pk=obj.pk,
        )
        if not changed:
            raise UpdateError  # deleted by another request meanwhile

    def _get_session_from_db(self):
        """Django's read (the row while it has not expired, else None and no key), as one
        statement through core/statements.py: every page of a participant with a session reads
        it."""
        session = row_get(self.model, session_key=self.session_key, expire_date__gt=timezone.now())
        if session is None:
            self._session_key = None
        return session
