from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from accounts.origins import validate_frame_origins
from accounts.validators import validate_public_https_url

# Bounds of a retention period in days, for accounts and campaigns alike.
RETENTION_DAYS_MIN = 1
RETENTION_DAYS_MAX = 3650


class Account(models.Model):
    """A customer of the platform: owns campaigns, integrations and webhooks."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    is_active = models.BooleanField("active", default=True)
    sso_oauth_enabled = models.BooleanField(
        "SSO using OAuth 2.0",
        default=False,
        help_text=(
            "Set by platform staff. When on, the account's administrators can configure the "
            "OAuth 2.0 single sign-on integration."
        ),
    )
    privacy_policy_url = models.URLField(
        "privacy policy",
        max_length=500,
        blank=True,
        validators=[validate_public_https_url],
        help_text=(
            "Your privacy policy (https://…), linked next to the login button and at the foot of "
            "every campaign page. A campaign may link its own instead."
        ),
    )
    participation_retention_days = models.PositiveIntegerField(
        "keep participations for (days)",
        null=True,
        blank=True,
        validators=[MinValueValidator(RETENTION_DAYS_MIN), MaxValueValidator(RETENTION_DAYS_MAX)],
        help_text=(
            "Days a campaign's participations are kept after the campaign ends; then they are "
            "deleted. Blank: the platform's default. A campaign may set its own."
        ),
    )
    embed_allowed_origins = models.JSONField(
        "sites that may embed campaigns",
        default=list,
        blank=True,
        validators=[validate_frame_origins],
        help_text=(
            "The sites allowed to show your campaigns in a frame, one address per line "
            "(https://www.example.com: no path, no wildcard). A campaign may list its own."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def retention_days(self) -> int:
        """Days participations are kept after a campaign ends, unless the campaign says."""
        return self.participation_retention_days or settings.PARTICIPATION_RETENTION_DAYS


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", "Administrator"
    EDITOR = "editor", "Editor"


class Membership(models.Model):
    """A customer user's role in one account. The role, not Django permissions, decides access."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.EDITOR)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "account"], name="membership_unique_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.account} ({self.get_role_display()})"
