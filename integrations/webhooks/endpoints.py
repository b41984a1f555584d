"""What happens to an endpoint outside the admin form: its secret, its rotation, switching it off
when the receiver is gone, and back on."""

import logging
from datetime import datetime, timedelta

from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.permissions import administrator_emails
from integrations.fields import UndecryptableSecret, UndecryptableSecretError
from integrations.models import DeliveryStatus, WebhookEndpoint
from integrations.webhooks.signing import secret_generate

logger = logging.getLogger(__name__)

# How long the previous secret keeps signing after a rotation, so that the receiver can switch
# to the new one without dropping deliveries.
ROTATION_WINDOW = timedelta(hours=24)


def endpoint_signing_secrets(*, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, then the previous one while its rotation window lasts."""
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None and now < expires:
        secrets.append(endpoint.previous_secret)
    for secret in secrets:
        if isinstance(secret, UndecryptableSecret) or not secret:
            raise UndecryptableSecretError(
                "The signing secret cannot be decrypted; rotate the secret in the admin."
            )
    return secrets


def endpoint_secret_set(*, endpoint: WebhookEndpoint) -> str:
    """Give a new endpoint its first secret (not saved); returns it to be shown once."""
    endpoint.secret = secret_generate()
    return endpoint.secret


def endpoint_secret_rotate(*, endpoint: WebhookEndpoint) -> str:
    """A new secret; the current one keeps signing alongside it for ROTATION_WINDOW."""
    now = timezone.now()
    new_secret = secret_generate()
    current = endpoint.secret
    if isinstance(current, UndecryptableSecret) or not current:
        endpoint.previous_secret, endpoint.previous_secret_expires_at = "", None
    else:
        endpoint.previous_secret = current
        endpoint.previous_secret_expires_at = now + ROTATION_WINDOW
    endpoint.secret = new_secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    logger.info("Webhook endpoint %s: signing secret rotated", endpoint.pk)
    return new_secret


def endpoint_disable(*, endpoint_id: int, reason: str) -> bool:
    """Stop delivering to an endpoint and tell the account's administrators. False if it was
    already disabled (they were told then)."""
    now = timezone.now()
    changed = WebhookEndpoint.objects.filter(pk=endpoint_id, disabled_at__isnull=True).update(
        disabled_at=now, disabled_reason=reason[:200]
    )
    if not changed:
        return False
    endpoint = WebhookEndpoint.objects.select_related("account").get(pk=endpoint_id)
    logger.warning(
        "Webhook endpoint %s of account %s disabled: %s",
        endpoint.pk,
        endpoint.account.slug,
        reason,
    )
    transaction.on_commit(lambda: _notify_disabled(endpoint), robust=True)
    return True


def _notify_disabled(endpoint: WebhookEndpoint) -> None:
    recipients = administrator_emails(endpoint.account)
    if not recipients:
        return
    send_mail(
        subject=f"Webhook disabled: {endpoint.url}",
        message=(
            f"Deliveries to the webhook {endpoint.url} of {endpoint.account.name} have stopped: "
            f"{endpoint.disabled_reason}\n\nEvents are kept. Once the receiver works again, "
            "enable the webhook in the admin (Webhooks › Webhook endpoints) and the pending "
            "events will be sent."
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )


def endpoint_enable(*, endpoint: WebhookEndpoint) -> int:
    """Re-enable a disabled endpoint and make its pending deliveries due now; returns their
    number (the caller enqueues them, or the relay picks them up)."""
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        disabled_at=None, disabled_reason="", failing_since=None
    )
    endpoint.disabled_at, endpoint.disabled_reason, endpoint.failing_since = None, "", None
    return endpoint.deliveries.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=now)


def endpoint_is_usable(endpoint: WebhookEndpoint) -> bool:
    return endpoint.is_active and endpoint.disabled_at is None


__all__ = [
    "ROTATION_WINDOW",
    "endpoint_disable",
    "endpoint_enable",
    "endpoint_is_usable",
    "endpoint_secret_rotate",
    "endpoint_secret_set",
    "endpoint_signing_secrets",
]
