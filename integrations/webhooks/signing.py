"""Standard Webhooks signatures: secrets, message ids and the three `webhook-*` headers.

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`, HMAC-SHA256 keyed with the
base64-decoded part of the `whsec_…` secret, sent as `v1,<base64>`. During a secret rotation
several signatures are sent, space-separated; receivers accept any that matches.
"""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


class WebhookSecretError(Exception):
    """A signing secret is not of the `whsec_<base64>` form."""


def secret_generate() -> str:
    """A fresh signing secret: `whsec_` + base64 of 32 bytes from the OS CSPRNG."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def message_id_generate() -> str:
    """A `webhook-id`: `msg_` + 128 random bits; URL-safe base64 never contains a dot."""
    return "msg_" + secrets.token_urlsafe(16)


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise WebhookSecretError("A webhook signing secret starts with whsec_.")
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError as exc:
        raise WebhookSecretError("A webhook signing secret is base64 after whsec_.") from exc


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of exactly the bytes that are sent."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    mac = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(
    *, secrets: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt, signed with every secret given."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret=s, message_id=message_id, timestamp=timestamp, body=body)
            for s in secrets
        ),
    }
