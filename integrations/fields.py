"""Encrypted secrets at rest, on top of django-encrypted-model-fields.

The library's field has three traps this wrapper closes:

- its `to_python` swallows `InvalidToken` and returns the ciphertext, so with a wrong or
  rotated-out key the ciphertext would be sent to the IdP as if it were the secret. Here a value
  that cannot be decrypted becomes an `UndecryptableSecret`, which is not a `str` and refuses
  to be used;
- its `to_python` also runs during `full_clean()`, so a valid Fernet token pasted into a form
  would be decrypted. Here only `from_db_value` decrypts;
- it reads the keys once at import (module-level `CRYPTER`). Here the keys are read from
  `settings.FIELD_ENCRYPTION_KEY` (newest first) on use, so key rotation and tests see the
  configured keys.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from encrypted_model_fields.fields import EncryptedTextField


class UndecryptableSecretError(Exception):
    """A stored secret could not be decrypted with any configured key."""


class UndecryptableSecret:
    """Stands in for a stored secret that none of the configured keys decrypts."""

    __slots__ = ("ciphertext",)

    def __init__(self, ciphertext: str) -> None:
        self.ciphertext = ciphertext

    def __repr__(self) -> str:
        return "<UndecryptableSecret>"

    def __str__(self) -> str:
        raise UndecryptableSecretError(
            "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEY."
        )

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other) -> bool:
        return isinstance(other, UndecryptableSecret) and other.ciphertext == self.ciphertext

    def __hash__(self) -> int:
        return hash(self.ciphertext)


@lru_cache(maxsize=8)
def _crypter(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def crypter() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEY
    if isinstance(keys, str):
        keys = [keys]
    return _crypter(tuple(keys))


def encrypt(value: str) -> str:
    return crypter().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt with any configured key; raises `cryptography.fernet.InvalidToken`."""
    return crypter().decrypt(token.encode()).decode()


def reencrypt(token: str) -> str:
    """The same secret encrypted with the newest key (`MultiFernet.rotate`)."""
    return crypter().rotate(token.encode()).decode()


class EncryptedSecretField(EncryptedTextField):
    """A text secret, Fernet-encrypted in the database column."""

    def to_python(self, value):
        # Never decrypt here: this runs on form input during full_clean().
        if isinstance(value, UndecryptableSecret) or value is None:
            return value
        return str(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        try:
            return decrypt(value)
        except InvalidToken:
            return UndecryptableSecret(value)

    def get_db_prep_save(self, value, connection):
        if value is None:
            return None
        if isinstance(value, UndecryptableSecret):
            # Keep what is stored rather than encrypting a placeholder.
            return value.ciphertext
        if value == "":
            return ""
        return encrypt(str(value))
