"""Webhook endpoints, and the deliveries and attempts of the events sent to them."""

from django.db import models

from accounts.models import Account
from integrations.fields import EncryptedSecretField
from integrations.models_common import when


# ---------------------------------------------------------------------------- webhooks
class WebhookEvent(models.TextChoices):
    PARTICIPATION_CREATED = "participation.created", "Participation created"
    PROFILE_UPDATED = "profile.updated", "Profile updated"
    PARTICIPANT_ERASED = "participant.erased", "Participant erased"


class WebhookAuthType(models.TextChoices):
    NONE = "none", "None"
    BASIC = "basic", "Basic (user and password)"
    BEARER = "bearer", "Bearer token"
    HEADER = "header", "Custom header"


class WebhookEndpoint(models.Model):
    """Where an account receives participation and profile-update events."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField("receiving URL", max_length=500)
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField("active", default=True)
    events = models.JSONField(default=list, help_text="The events sent to this URL.")
    secret = EncryptedSecretField(editable=False)
    # During a rotation window both the new and the previous secret sign deliveries.
    previous_secret = EncryptedSecretField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    auth_type = models.CharField(
        "extra authentication",
        max_length=10,
        choices=WebhookAuthType.choices,
        default=WebhookAuthType.NONE,
    )
    auth_username = models.CharField("user name", max_length=200, blank=True)
    auth_header_name = models.CharField("header name", max_length=100, blank=True)
    # Basic password, Bearer token or custom header value.
    auth_secret = EncryptedSecretField(blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=200, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "webhook endpoint"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(auth_type__in=WebhookAuthType.values),
                name="webhookendpoint_auth_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.description or self.url

    def __repr__(self) -> str:
        return f"<WebhookEndpoint {self.pk} {self.url!r}>"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """The outbox: one event for one endpoint, written in the transaction that caused it."""

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.CharField(max_length=64, unique=True)  # the webhook-id header: msg_…
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the delivery until then (lease); another worker skips it meanwhile. The
    # lease is short and renewed while the worker sends: a dead worker's lease soon lapses.
    locked_until = models.DateTimeField(null=True, blank=True)
    # Which claim holds the lease: a worker whose lease ran out must not overwrite the outcome.
    lease_token = models.CharField(max_length=32, blank=True)
    # When a task for this delivery was put on the queue; cleared when a task runs for it. One
    # queued task per delivery at most: nothing queues another while this is set.
    queued_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            # An endpoint's due deliveries, oldest first, for the worker draining it: read in
            # index order, a backlog of thousands is not sorted for every batch.
            models.Index(
                fields=["endpoint", "next_attempt_at", "id"],
                condition=models.Q(status="pending"),
                name="webhookdelivery_pending",
            ),
            # Counting an endpoint's leased deliveries at claim time (the concurrency cap).
            models.Index(
                fields=["endpoint", "locked_until"],
                condition=models.Q(locked_until__isnull=False),
                name="webhookdelivery_leased",
            ),
            # Counting an endpoint's queued deliveries when deciding what to queue next.
            models.Index(
                fields=["endpoint", "queued_at"],
                condition=models.Q(queued_at__isnull=False),
                name="webhookdelivery_queued",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="webhookdelivery_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(models.Model):
    """One HTTP POST of a delivery."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_body = models.TextField(blank=True)  # first 2 KB, shown escaped
    # Written when the delivery is claimed, before anything is sent: a worker killed mid-send
    # leaves this row in flight, and the next claim marks it interrupted. The attempt counts.
    in_flight = models.BooleanField(default=False)
    # The claim this attempt belongs to (the delivery's lease token at the time).
    lease_token = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery} @ {when(self.started_at)}"
