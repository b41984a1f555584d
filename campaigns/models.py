from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language

from accounts.models import RETENTION_DAYS_MAX, RETENTION_DAYS_MIN, Account
from accounts.origins import frame_origins_in_force, validate_frame_origins
from accounts.validators import validate_public_https_url
from core.links import link_url
from integrations.models import OAuthIntegration
from integrations.variables import (
    STANDARD_VARIABLES,
    VariableType,
    get_variable,
    is_valid_variable_name,
)


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


class Embedding(models.TextChoices):
    ACCOUNT = "account", "On the sites your account allows"
    OWN = "own", "Only on the sites listed here"
    OFF = "off", "Nowhere: the campaign cannot be embedded"


class Campaign(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="campaigns")
    title = models.CharField("title (English)", max_length=200)
    title_fr = models.CharField(
        "title (French)",
        max_length=200,
        blank=True,
        help_text="Leave blank to use the English one.",
    )
    slug = models.SlugField(
        max_length=80, unique=True, help_text="The public address becomes /c/this-slug/."
    )
    description = models.TextField(
        "description (English)", blank=True, help_text="Shown on the campaign's landing page."
    )
    description_fr = models.TextField(
        "description (French)", blank=True, help_text="Leave blank to use the English one."
    )
    starts_at = models.DateTimeField(
        "starts at",
        null=True,
        blank=True,
        help_text="Before this time participants see “not started yet”. Blank: as soon as live.",
    )
    ends_at = models.DateTimeField(
        "ends at",
        null=True,
        blank=True,
        help_text="From this time participants see “this campaign has ended”. Blank: no end.",
    )
    status = models.CharField(
        max_length=10,
        choices=CampaignStatus.choices,
        default=CampaignStatus.DRAFT,
        help_text="Draft campaigns are invisible to the public; ended ones show an ending page.",
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
    privacy_policy_url = models.URLField(
        "privacy policy",
        max_length=500,
        blank=True,
        validators=[validate_public_https_url],
        help_text="Blank: your account's privacy policy.",
    )
    participation_retention_days = models.PositiveIntegerField(
        "keep participations for (days)",
        null=True,
        blank=True,
        validators=[MinValueValidator(RETENTION_DAYS_MIN), MaxValueValidator(RETENTION_DAYS_MAX)],
        help_text=(
            "Days the participations are kept after the campaign ends; then they are deleted. "
            "Blank: your account's default."
        ),
    )
    embedding = models.CharField(
        "embedding",
        max_length=10,
        choices=Embedding.choices,
        default=Embedding.ACCOUNT,
        help_text="Which sites may show the campaign in a frame (the embed code is below).",
    )
    embed_allowed_origins = models.JSONField(
        "sites that may embed it",
        default=list,
        blank=True,
        validators=[validate_frame_origins],
        help_text=(
            "With “Only on the sites listed here”: one address per line "
            "(https://www.example.com: no path, no wildcard)."
        ),
    )
    # When the status was set to "ended" (the end time may be blank or later): with `ends_at`
    # it says when the campaign ended, from which its participations' retention counts.
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
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
            models.CheckConstraint(
                condition=models.Q(embedding__in=Embedding.values),
                name="campaign_embedding_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs):
        # Setting the status to "ended" is an end too: its time is kept for the retention.
        ended_at = self.ended_at
        if self.status == CampaignStatus.ENDED:
            self.ended_at = self.ended_at or timezone.now()
        else:
            self.ended_at = None
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and self.ended_at != ended_at:
            kwargs["update_fields"] = {*update_fields, "ended_at"}
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        # The public page belongs to participants, which registers it (core/links.py).
        return link_url("campaign_page", slug=self.slug)

    def clean(self):
        errors = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The end must come after the start."
        offered = {code for code, _name in settings.LANGUAGES}
        if (
            not isinstance(self.languages, list)
            or not self.languages
            or not set(self.languages) <= offered
        ):
            errors["languages"] = f"Pick at least one of: {', '.join(sorted(offered))}."
        # The widget only lists the account's integrations; this is the rule itself, so that a
        # forged POST or another code path cannot lend a campaign another customer's IdP.
        if (
            self.oauth_integration_id
            and self.account_id
            and self.oauth_integration.account_id != self.account_id
        ):
            errors["oauth_integration"] = "Pick an integration of the campaign's own account."
        if self.sso_mode == SSOMode.REQUIRED and not self.oauth_integration_id:
            errors["sso_mode"] = "A campaign that requires a login needs an SSO integration."
        if errors:
            raise ValidationError(errors)

    @property
    def login_integration(self) -> OAuthIntegration | None:
        """The integration participants may log in with on this campaign now, or None: none
        attached, another account's, or one that cannot be used (see unavailable_reason)."""
        integration = self.oauth_integration
        if integration is None or integration.account_id != self.account_id:
            return None
        if integration.unavailable_reason():
            return None
        return integration

    @property
    def frame_ancestors(self) -> list[str]:
        """The origins that may show the campaign's embedded pages in a frame now: its own list,
        its account's, or none (CSP `frame-ancestors`)."""
        if self.embedding == Embedding.OWN:
            return frame_origins_in_force(self.embed_allowed_origins)
        if self.embedding == Embedding.ACCOUNT:
            return frame_origins_in_force(self.account.embed_allowed_origins)
        return []

    def end_time(self, now: datetime | None = None) -> datetime | None:
        """When the campaign ended (its end time passed, or its status was set to ended,
        whichever came first), or None while it has not."""
        now = now or timezone.now()
        ends = []
        if self.ends_at is not None and self.ends_at <= now:
            ends.append(self.ends_at)
        if self.status == CampaignStatus.ENDED and self.ended_at is not None:
            ends.append(self.ended_at)
        return min(ends) if ends else None

    @property
    def retention_days(self) -> int:
        """Days participations are kept after the end: the campaign's, else its account's."""
        return self.participation_retention_days or self.account.retention_days

    @property
    def privacy_policy_link(self) -> str:
        """The privacy policy participants are shown: the campaign's own, else the account's."""
        return self.privacy_policy_url or self.account.privacy_policy_url

    def localized_title(self, language: str | None = None) -> str:
        language = language or get_language() or "en"
        return (self.title_fr if language.startswith("fr") else "") or self.title

    def localized_description(self, language: str | None = None) -> str:
        language = language or get_language() or "en"
        return (self.description_fr if language.startswith("fr") else "") or self.description

    @property
    def offered_languages(self) -> list[str]:
        """The campaign's languages, in the order the editor gave them; English when none."""
        supported = {code for code, _name in settings.LANGUAGES}
        codes = [c for c in (self.languages or []) if isinstance(c, str) and c in supported]
        return codes or [settings.LANGUAGE_CODE]

    @property
    def has_started(self) -> bool:
        return self.starts_at is None or self.starts_at <= timezone.now()

    @property
    def has_ended(self) -> bool:
        return self.status == CampaignStatus.ENDED or (
            self.ends_at is not None and self.ends_at <= timezone.now()
        )

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


# The form field types that make sense for each kind of standard variable; custom variables
# may use any type.
FIELD_TYPES_FOR_VARIABLE_TYPE: dict[VariableType, frozenset[str]] = {
    VariableType.TEXT: frozenset({FieldType.TEXT, FieldType.SELECT}),
    VariableType.EMAIL: frozenset({FieldType.EMAIL}),
    VariableType.DATE: frozenset({FieldType.DATE}),
    VariableType.PHONE: frozenset({FieldType.PHONE}),
    VariableType.CHOICE: frozenset({FieldType.SELECT}),
    VariableType.BOOLEAN: frozenset({FieldType.CHECKBOX}),
    VariableType.COUNTRY: frozenset({FieldType.SELECT, FieldType.TEXT}),
    VariableType.LANGUAGE: frozenset({FieldType.SELECT, FieldType.TEXT}),
}


@dataclass(frozen=True)
class FieldOption:
    value: str
    label_en: str
    label_fr: str

    def label(self, language: str | None = None) -> str:
        language = language or get_language() or "en"
        return (self.label_fr if language.startswith("fr") else "") or self.label_en


def parse_options(text: str) -> list[FieldOption]:
    """Options written one per line as `value|English label|French label` (labels optional)."""
    options = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        value, _, labels = line.partition("|")
        label_en, _, label_fr = labels.partition("|")
        value = value.strip()
        options.append(FieldOption(value, label_en.strip() or value, label_fr.strip()))
    return options


class CampaignField(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="fields")
    variable = models.CharField(
        max_length=63,
        help_text=(
            "A standard variable (firstname, lastname, email, gender, birthdate, phone, street, "
            "zipcode, city, country, language, optin_newsletter, optin_partners) or a custom "
            "technical name: lowercase letters, digits and underscores, starting with a letter."
        ),
    )
    label_en = models.CharField("label (English)", max_length=200)
    label_fr = models.CharField(
        "label (French)", max_length=200, blank=True, help_text="Blank: the English label."
    )
    field_type = models.CharField(
        "type", max_length=10, choices=FieldType.choices, default=FieldType.TEXT
    )
    options = models.TextField(
        blank=True,
        help_text="For a select: one option per line, as value|English label|French label.",
    )
    required = models.BooleanField(default=False)
    when_prefilled = models.CharField(
        "when prefilled",
        max_length=10,
        choices=WhenPrefilled.choices,
        default=WhenPrefilled.SHOW,
        help_text=(
            "What participants see when their identity provider supplied the value. A value "
            "the provider left empty is always shown and editable."
        ),
    )
    position = models.PositiveIntegerField(default=0, help_text="Fields are shown in this order.")

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

    def clean(self):
        if not is_valid_variable_name(self.variable):
            raise ValidationError(
                {
                    "variable": (
                        "Use a standard variable or a custom name made of lowercase letters, "
                        "digits and underscores, starting with a letter (e.g. favourite_colour)."
                    )
                }
            )
        variable = get_variable(self.variable)
        standard = self.variable in STANDARD_VARIABLES
        allowed = FIELD_TYPES_FOR_VARIABLE_TYPE.get(variable.type, frozenset(FieldType.values))
        if standard and self.field_type not in allowed:
            names = ", ".join(str(FieldType(t).label) for t in sorted(allowed))
            raise ValidationError({"field_type": f"“{self.variable}” needs the type: {names}."})
        if self.field_type == FieldType.SELECT:
            self._clean_options(variable)

    def _clean_options(self, variable):
        if not self.options.strip() and variable.choices:
            # A standard choice (gender) gets its standard values so the editor need not type them.
            self.options = "\n".join(variable.choices)
        options = parse_options(self.options)
        if not options:
            raise ValidationError({"options": "List the options, one per line."})
        values = [o.value for o in options]
        problems = []
        if any(not v for v in values):
            problems.append("every option needs a value before the first |")
        if len(set(values)) != len(values):
            problems.append("option values must be different")
        if any(len(v) > variable.max_length for v in values):
            problems.append(f"option values must be at most {variable.max_length} characters")
        if variable.choices and not set(values) <= set(variable.choices):
            problems.append(f"the values must be among: {', '.join(variable.choices)}")
        if problems:
            raise ValidationError({"options": "Options: " + "; ".join(problems) + "."})

    def option_list(self) -> list[FieldOption]:
        return parse_options(self.options)

    def label(self, language: str | None = None) -> str:
        language = language or get_language() or "en"
        return (self.label_fr if language.startswith("fr") else "") or self.label_en
