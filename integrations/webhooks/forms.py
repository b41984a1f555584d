"""The webhook endpoint form of the admin: the receiving URL (checked against the egress policy),
the events, and the optional extra authentication (write-only secret, reserved header names)."""

import re

from django import forms
from django.core.exceptions import ValidationError

from integrations.egress.policy import DisallowedURLError, Purpose, check_url
from integrations.models import WebhookAuthType, WebhookEndpoint, WebhookEvent

# RFC 9110 token characters; the headers we set ourselves cannot be overridden.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "content-type",
        "host",
        "transfer-encoding",
        "user-agent",
        "webhook-id",
        "webhook-signature",
        "webhook-timestamp",
    }
)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(
        label="Receiving URL",
        max_length=500,
        assume_scheme="https",
        help_text="The https:// address we POST events to. Private and internal addresses are "
        "refused.",
    )
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The events sent to this URL.",
    )
    auth_secret = forms.CharField(
        label="Password, token or header value",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=(
            "The Basic password, the Bearer token or the custom header's value. Stored encrypted "
            "and never shown again; leave blank to keep the current one."
        ),
    )

    class Meta:
        model = WebhookEndpoint
        fields = [
            "account",
            "is_active",
            "description",
            "url",
            "events",
            "auth_type",
            "auth_username",
            "auth_header_name",
            "auth_secret",
        ]
        help_texts = {
            "is_active": "When off, no events are recorded for this URL.",
            "auth_type": "Optional, on top of the signature every delivery carries.",
        }

    class Media:
        # Shows only the extra-authentication fields of the chosen type (none for "None").
        js = ["integrations/webhook_auth_fields.js"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["auth_secret"] = ""
        if self.instance.pk:
            self.initial["events"] = list(self.instance.events or [])

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            # Resolves the host name: a network call, so here and not in Model.save().
            check_url(url, purpose=Purpose.WEBHOOK)
        except DisallowedURLError as exc:
            raise ValidationError(str(exc)) from exc
        return url

    def clean_auth_header_name(self) -> str:
        name = self.cleaned_data.get("auth_header_name", "").strip()
        if name and not _HEADER_NAME.match(name):
            raise ValidationError("Use letters, digits and dashes only, e.g. X-Api-Key.")
        if name.lower() in _RESERVED_HEADERS:
            raise ValidationError(f"{name} is set by the webhook itself; choose another name.")
        return name

    def clean(self):
        cleaned = super().clean()
        auth_type = cleaned.get("auth_type")
        secret = cleaned.get("auth_secret") or ""
        kept = self.instance.auth_secret if self.instance.pk else ""
        if auth_type == WebhookAuthType.NONE:
            cleaned["auth_username"] = cleaned["auth_header_name"] = cleaned["auth_secret"] = ""
            return cleaned
        if not secret:
            if not kept or self.instance.auth_type != auth_type:
                self.add_error("auth_secret", "Enter the password, token or header value.")
            cleaned["auth_secret"] = kept
        if auth_type == WebhookAuthType.BASIC and not cleaned.get("auth_username"):
            self.add_error("auth_username", "Basic authentication needs a user name.")
        if auth_type == WebhookAuthType.HEADER and not cleaned.get("auth_header_name"):
            self.add_error("auth_header_name", "Name the header, e.g. X-Api-Key.")
        if auth_type != WebhookAuthType.BASIC:
            cleaned["auth_username"] = ""
        if auth_type != WebhookAuthType.HEADER:
            cleaned["auth_header_name"] = ""
        return cleaned
