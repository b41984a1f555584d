"""Django's database session stores, creating a session without first asking whether its new
random key is taken.

Before every new session Django looks the random key up (`exists()`: a cache read and a query in
`cached_db`), then inserts it with `save(must_create=True)`, whose unique-key error `create()`
already answers by drawing another key. The lookup guards nothing the insert does not; the
participant's callback, which creates the session, paid for it on every login.
"""

from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.utils.crypto import get_random_string


class NewKeyWithoutLookupMixin:
    def _get_new_session_key(self) -> str:
        return get_random_string(32, VALID_KEY_CHARS)
