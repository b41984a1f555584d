from django.db import models
from django.utils import timezone
from django.utils.translation import get_language

from accounts.models import Account
from integrations.models import OAuthIntegration


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"
    ENDED = "ended", "Ended"


class SSOMode(models.TextChoices):
    OPTIONAL = "optional", "Optional: participants may log in or fill the form by hand"
    REQUIRED = "required", "Required: the form needs a login"


class PrefillMode(models.TextChoices):
    DISPLAY = "display", "Prefill and display"
    AUTO_SUBMIT = "auto_submit", "Prefill and submit at once when every required field is known"


class ParticipationLimit(models.TextChoices):
    ONCE = "once", "Once per participant"
    UNLIMITED = "unlimited", "Unlimited"


class Campaign(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="campaigns")
    title = models.CharField("title (English)", max_length=200)
    title_fr = models.CharField("title (French)", max_length=200, blank=True)
    slug = models.SlugField(max_length=80, unique=True, help_text="Public address: /c/<slug>/")
    description = models.TextField("description (English)", blank=True)
    description_fr = models.TextField("description (French)", blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    languages = models.JSONField(default=list, help_text='Languages offered, e.g. ["en", "fr"].')
    oauth_integration = models.ForeignKey(
        OAuthIntegration,
        verbose_name="SSO integration",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaigns",
    )
    sso_mode = models.CharField(
        "SSO mode", max_length=10, choices=SSOMode.choices, default=SSOMode.OPTIONAL
    )
    prefill_mode = models.CharField(
        max_length=12, choices=PrefillMode.choices, default=PrefillMode.DISPLAY
    )
    participation_limit = models.CharField(
        max_length=10, choices=ParticipationLimit.choices, default=ParticipationLimit.ONCE
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=CampaignStatus.values), name="campaign_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(sso_mode__in=SSOMode.values), name="campaign_sso_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(prefill_mode__in=PrefillMode.values),
                name="campaign_prefill_mode_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(participation_limit__in=ParticipationLimit.values),
                name="campaign_participation_limit_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def localized_title(self, language: str | None = None) -> str:
        language = language or get_language() or "en"
        return (self.title_fr if language.startswith("fr") else "") or self.title

    def localized_description(self, language: str | None = None) -> str:
        language = language or get_language() or "en"
        return (self.description_fr if language.startswith("fr") else "") or self.description

    @property
    def is_open(self) -> bool:
        now = timezone.now()
        return (
            self.status == CampaignStatus.LIVE
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    EMAIL = "email", "E-mail"
    DATE = "date", "Date"
    PHONE = "phone", "Phone"
    SELECT = "select", "Select (options)"
    CHECKBOX = "checkbox", "Checkbox"


class WhenPrefilled(models.TextChoices):
    SHOW = "show", "Show (editable)"
    HIDE = "hide", "Hide when prefilled"
    READONLY = "readonly", "Read-only when prefilled"


class CampaignField(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="fields")
    variable = models.CharField(
        max_length=63,
        help_text="Standard variable (firstname, email, …) or a custom technical name.",
    )
    label_en = models.CharField("label (English)", max_length=200)
    label_fr = models.CharField("label (French)", max_length=200, blank=True)
    field_type = models.CharField(max_length=10, choices=FieldType.choices, default=FieldType.TEXT)
    options = models.TextField(
        blank=True,
        help_text="For a select: one option per line, as value|English label|French label.",
    )
    required = models.BooleanField(default=False)
    when_prefilled = models.CharField(
        max_length=10, choices=WhenPrefilled.choices, default=WhenPrefilled.SHOW
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "variable"], name="campaignfield_unique_variable"
            ),
            models.CheckConstraint(
                condition=models.Q(field_type__in=FieldType.values),
                name="campaignfield_type_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(when_prefilled__in=WhenPrefilled.values),
                name="campaignfield_when_prefilled_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.variable

    def label(self, language: str | None = None) -> str:
        language = language or get_language() or "en"
        return (self.label_fr if language.startswith("fr") else "") or self.label_en
