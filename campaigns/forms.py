"""The campaign admin's forms: what editors fill to build a campaign and its form fields."""

from django import forms
from django.conf import settings
from django.utils.html import format_html, format_html_join

from accounts.models import Account
from accounts.origins import FrameOriginsField
from campaigns.models import Campaign, CampaignField, Embedding, FieldType
from integrations.variables import STANDARD_VARIABLES

# The fields a new campaign proposes; the editor may change or remove them before saving.
DEFAULT_FIELDS = [
    {"variable": "firstname", "field_type": FieldType.TEXT, "required": True},
    {"variable": "lastname", "field_type": FieldType.TEXT, "required": True},
    {"variable": "email", "field_type": FieldType.EMAIL, "required": True},
]


def default_field_initial() -> list[dict]:
    return [
        {
            **field,
            "label_en": STANDARD_VARIABLES[field["variable"]].label_en,
            "label_fr": STANDARD_VARIABLES[field["variable"]].label_fr,
            "position": (index + 1) * 10,
        }
        for index, field in enumerate(DEFAULT_FIELDS)
    ]


class VariableInput(forms.TextInput):
    """A text input that suggests the standard variable names as the editor types."""

    datalist_id = "campaign-standard-variables"

    def __init__(self, attrs=None):
        super().__init__({"list": self.datalist_id, "autocomplete": "off", **(attrs or {})})

    def render(self, name, value, attrs=None, renderer=None):
        options = format_html_join(
            "",
            '<option value="{}">{}</option>',
            ((v.name, v.label_en) for v in STANDARD_VARIABLES.values()),
        )
        datalist = format_html('<datalist id="{}">{}</datalist>', self.datalist_id, options)
        return super().render(name, value, attrs, renderer) + datalist


class CampaignAdminForm(forms.ModelForm):
    languages = forms.MultipleChoiceField(
        label="Languages offered",
        choices=settings.LANGUAGES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Participants see the campaign in their browser's language when offered here.",
    )

    privacy_policy_url = forms.URLField(
        label="Privacy policy",
        required=False,
        max_length=500,
        # "example.com/privacy" means https://example.com/privacy, the only scheme accepted.
        assume_scheme="https",
        widget=forms.URLInput(attrs={"class": "vURLField", "size": 70}),
        help_text=(
            "Linked next to the login button and at the foot of the campaign's pages "
            "(https:// only). Blank: your account's privacy policy."
        ),
    )

    embed_allowed_origins = FrameOriginsField(
        label="Sites that may embed it",
        required=False,
        help_text=(
            "With “Only on the sites listed here”: one address per line, e.g. "
            "https://www.example.com (no path, no wildcard)."
        ),
    )

    # Set by the admin for users with a single account (the field is then not in the form).
    default_account: Account | None = None

    class Meta:
        model = Campaign
        fields = [
            "account",
            "title",
            "title_fr",
            "slug",
            "description",
            "description_fr",
            "status",
            "starts_at",
            "ends_at",
            "languages",
            "participation_limit",
            "oauth_integration",
            "sso_mode",
            "prefill_mode",
            "privacy_policy_url",
            "participation_retention_days",
            "embedding",
            "embed_allowed_origins",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk and not self.is_bound:
            self.initial.setdefault("languages", [code for code, _name in settings.LANGUAGES])

    def clean_oauth_integration(self):
        integration = self.cleaned_data.get("oauth_integration")
        changed = integration is not None and integration.pk != self.instance.oauth_integration_id
        if changed and (reason := integration.unavailable_reason()):
            raise forms.ValidationError(
                "Participants cannot log in with this integration: %(reason)s",
                params={"reason": reason},
            )
        return integration

    def clean(self):
        cleaned = super().clean()
        # Saved without a site, such a campaign could be framed nowhere: harmless, but surely
        # not what the editor meant.
        if (
            cleaned.get("embedding") == Embedding.OWN
            and not cleaned.get("embed_allowed_origins")
            and "embed_allowed_origins" not in self.errors
        ):
            self.add_error(
                "embed_allowed_origins",
                "List the sites that may embed the campaign, or choose another option above.",
            )
        # The model's clean checks the integration against the campaign's account, which must
        # be known before it runs.
        if not self.instance.account_id:
            account = cleaned.get("account") or self.default_account
            if account is not None:
                self.instance.account = account
        return cleaned


class CampaignFieldAdminForm(forms.ModelForm):
    class Meta:
        model = CampaignField
        fields = [
            "variable",
            "label_en",
            "label_fr",
            "field_type",
            "options",
            "required",
            "when_prefilled",
            "position",
        ]
        widgets = {
            "variable": VariableInput(attrs={"size": 16}),
            "label_en": forms.TextInput(attrs={"size": 18}),
            "label_fr": forms.TextInput(attrs={"size": 18}),
            "options": forms.Textarea(attrs={"rows": 2, "cols": 28}),
            "position": forms.NumberInput(attrs={"style": "width: 5em"}),
        }

    def has_changed(self):
        if self.instance.pk is not None:
            return super().has_changed()
        # A new row counts when it differs from a blank row, not from its initial data: the
        # proposed default fields are then saved as proposed (Django would skip them as
        # "unchanged"), and a row added but left blank is ignored even though the ordering
        # script gave it a position.
        for name, field in self.fields.items():
            if name in ("id", "campaign", "position"):
                continue
            posted = field.widget.value_from_datadict(self.data, self.files, self.add_prefix(name))
            if field.has_changed(field.initial, posted):
                return True
        return False
