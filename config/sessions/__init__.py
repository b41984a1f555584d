"""Django's database session stores, with two round trips less.

- **A new session without a lookup.** Before every new session Django looks the random key up
  (`exists()`: a cache read and a query in `cached_db`), then inserts it with
  `save(must_create=True)`, whose unique-key error `create()` already answers by drawing another
  key. The lookup guards nothing the insert does not; the participant's callback, which creates
  the session, paid for it on every login.
- **A save in one statement.** Django wraps the session's one INSERT or UPDATE in
  `transaction.atomic()`: outside a transaction that is BEGIN, the statement, COMMIT, three round
  trips for what a single statement does atomically by itself (on SQLite, BEGIN IMMEDIATE also
  takes the write lock before it is needed). Sessions are saved by the middleware after the
  view, in autocommit; inside a transaction (a test, a view that saves within `atomic()`)
  Django's own save runs, with its savepoint.
"""

from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError, UpdateError
from django.db import DatabaseError, IntegrityError, OperationalError, connections, router
from django.utils.crypto import get_random_string


class NewKeyWithoutLookupMixin:
    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)


def database_save(store, must_create: bool, django_save) -> None:
    """Save `store` (a db.SessionStore) to its table; `django_save` is Django's own, used inside
    a transaction and for a store without a key. Same errors as Django's: CreateError when the
    key is taken, UpdateError when the row is gone."""
    using = router.db_for_write(store.model)
    if store.session_key is None or connections[using].in_atomic_block:
        return django_save(must_create)
    obj = store.create_model_instance(store._get_session(no_load=must_create))
    try:
        obj.save(force_insert=must_create, force_update=not must_create, using=using)
    except IntegrityError:
        if must_create:
            raise CreateError from None
        raise
    except OperationalError:
        # The database is unreachable: not "the session was deleted meanwhile" (which Django
        # answers with a 400). Callers see the outage for what it is (participants/outage.py).
        raise
    except DatabaseError:
        if not must_create:
            raise UpdateError from None
        raise
