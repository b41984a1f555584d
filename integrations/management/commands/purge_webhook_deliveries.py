"""Delete old finished webhook deliveries and their attempts: the delivery log stays bounded."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

BATCH = 1000


class Command(BaseCommand):
    help = (
        "Delete delivered and failed webhook deliveries, with their attempts, older than "
        "--days days (default WEBHOOK_RETENTION_DAYS). Pending deliveries are never deleted, "
        "nor a delivery with an attempt in that period (e.g. resent lately)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep this many days (default: the WEBHOOK_RETENTION_DAYS setting, 30).",
        )

    def handle(self, *, days: int | None, **options):
        if days is None:
            days = getattr(settings, "WEBHOOK_RETENTION_DAYS", 30)
        if days < 0:
            raise CommandError("--days must be 0 or more.")
        cutoff = timezone.now() - timedelta(days=days)
        recent_attempt = WebhookAttempt.objects.filter(
            delivery=OuterRef("pk"), started_at__gte=cutoff
        )
        old = (
            WebhookDelivery.objects.filter(
                status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED],
                created_at__lt=cutoff,
            )
            .filter(Q(delivered_at__isnull=True) | Q(delivered_at__lt=cutoff))
            .exclude(Exists(recent_attempt))
        )
        deliveries = attempts = 0
        # In batches: short transactions, no long lock on a big table.
        while batch := list(old.order_by("pk").values_list("pk", flat=True)[:BATCH]):
            attempts += WebhookAttempt.objects.filter(delivery_id__in=batch).delete()[0]
            deliveries += WebhookDelivery.objects.filter(
                pk__in=batch, status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]
            ).delete()[0]
        self.stdout.write(
            f"Deleted {deliveries} webhook deliveries and {attempts} attempts older than "
            f"{days} days."
        )
