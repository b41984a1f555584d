from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from participants.models import EmbedSession, EmbedTicket, LoginAttempt, RememberedLogin


class Command(BaseCommand):
    help = (
        "Delete login attempts older than LOGIN_ATTEMPT_RETENTION_DAYS, attempts that expired "
        "without the participant ever coming back from the IdP, expired remembered logins "
        "(SSO_REMEMBER_SECONDS), and the embedded visits and login tickets that have expired."
    )

    def handle(self, *args, **options):
        now = timezone.now()
        cutoff = now - timedelta(days=settings.LOGIN_ATTEMPT_RETENTION_DAYS)
        old, _ = LoginAttempt.objects.filter(created_at__lt=cutoff).delete()
        # Abandoned trips to the IdP: their nonce and PKCE verifier serve no one any more.
        abandoned, _ = LoginAttempt.objects.filter(
            used_at__isnull=True, expires_at__lt=now
        ).delete()
        # Unusable once expired (never offered again), and they hold an IdP profile.
        remembered, _ = RememberedLogin.objects.filter(expires_at__lte=now).delete()
        # Embedded campaigns: their tokens no longer work, and they may hold IdP values.
        tickets, _ = EmbedTicket.objects.filter(expires_at__lte=now).delete()
        visits = (
            EmbedSession.objects.filter(expires_at__lte=now)
            .delete()[1]
            .get(EmbedSession._meta.label, 0)
        )
        self.stdout.write(
            f"Deleted {old} old and {abandoned} abandoned login attempts, {remembered} "
            f"expired remembered logins, {visits} expired embedded visits and {tickets} "
            "expired login tickets."
        )
