"""The OAuth 2.0 integration form an account administrator fills in the admin.

Network calls (discovery) happen here, in `clean()`, never in `Model.save()`. The client secret
is write-only: rendered as an empty password input, kept when left blank on edit, and never
part of the form's initial data (so the admin history cannot see a "change" that did not
happen, and the decrypted value is never at hand for a template).
"""

import re
import unicodedata

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.text import capfirst
from django.views.decorators.debug import sensitive_variables

from integrations.egress.policy import DisallowedURLError, Purpose, check_url
from integrations.fields import UndecryptableSecret
from integrations.mapping.paths import PathError, path_parse
from integrations.models import (
    VERIFIED_SETTINGS,
    ClientAuthMethod,
    IdentifierSource,
    OAuthIntegration,
)
from integrations.oauth.client import OAuthError, check_authorization_endpoint
from integrations.oauth.discovery import (
    DEFAULT_TIMEOUT,
    DiscoveryError,
    DiscoveryResult,
    discover,
    discover_from_endpoints,
)
from integrations.oauth.redirect_uri import own_callback_url

# RFC 6749 §3.3: scope-token = 1*NQCHAR, NQCHAR = %x21 / %x23-5B / %x5D-7E
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# The scope a discovery import proposes, in this order, of those the IdP lists.
PROPOSED_SCOPES = ("openid", "profile", "email")
ENDPOINT_FIELDS = ("authorization_endpoint", "token_endpoint", "profile_endpoint", "jwks_uri")
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint")
MIN_TIMEOUT, MAX_TIMEOUT = 1.0, 30.0
# The add page shows the new integration's callback URL before it is saved (the IdP often wants
# it before it hands out the client ID); the key travels signed, so nobody picks their own.
CALLBACK_KEY_SALT = "integrations.oauth.redirect_uri-key"
CALLBACK_KEY_MAX_AGE = 7 * 24 * 3600


class CallbackURLWidget(forms.Widget):
    """The redirect URI to register, with a Copy button; shown, never submitted."""

    def render(self, name, value, attrs=None, renderer=None):
        return format_html(
            '<code id="oauth-callback-url">{}</code> '
            '<button type="button" class="button" data-copy-target="oauth-callback-url">'
            "Copy</button>",
            value,
        )


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def validate_endpoint(value: str) -> None:
    """An absolute https:// URL we may call (see integrations.egress.transport.check_url)."""
    try:
        check_url(value, purpose=Purpose.IDP)
    except DisallowedURLError as exc:
        raise ValidationError(str(exc), code="disallowed_url") from None


def _model_field(name: str):
    return OAuthIntegration._meta.get_field(name)


def _url_field(name: str, *, required: bool) -> forms.CharField:
    # A CharField rather than a URLField: URLField would quietly prepend "http://" to input
    # without a scheme, and our own check gives the clearer message.
    model_field = _model_field(name)
    return forms.CharField(
        label=capfirst(model_field.verbose_name),
        help_text=model_field.help_text,
        max_length=model_field.max_length,
        required=required,
        validators=[validate_endpoint],
        widget=forms.URLInput(attrs={"class": "vURLField", "size": 70}),
    )


class SecondsInput(forms.NumberInput):
    """Seconds as people write them: "5", not the float's "5.0"."""

    def __init__(self, attrs=None):
        super().__init__({"step": "0.5", "class": "vIntegerField", **(attrs or {})})

    def format_value(self, value):
        try:
            return f"{float(value):g}"
        except (TypeError, ValueError):
            return super().format_value(value)


def _timeout_field(name: str) -> forms.FloatField:
    model_field = _model_field(name)
    return forms.FloatField(
        label=f"{capfirst(model_field.verbose_name)} (seconds)",
        help_text=f"{model_field.help_text} Between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} seconds.",
        min_value=MIN_TIMEOUT,
        max_value=MAX_TIMEOUT,
        initial=model_field.default,
        widget=SecondsInput(),
    )


class OAuthIntegrationForm(forms.ModelForm):
    discovery_url = forms.CharField(
        label="Import from discovery URL",
        required=False,
        max_length=500,
        widget=forms.URLInput(attrs={"class": "vURLField", "size": 70}),
        help_text=(
            "Optional. Paste your IdP's issuer (e.g. https://login.example.com/realms/main) or "
            "its …/.well-known/openid-configuration address: when you save, we read it and fill "
            "in the endpoints, issuer and JWKS URI you leave empty here."
        ),
    )
    callback_url = forms.CharField(
        label="Callback URL",
        required=False,
        disabled=True,
        widget=CallbackURLWidget,
        help_text=(
            "Register exactly this URL as the redirect URI at your IdP, and select it below. It "
            "belongs to this integration alone: the address a participant comes back to tells "
            "us which IdP sent them, so that no other account's settings can receive a code "
            "your IdP issued (a “mix-up”, RFC 9700 §4.4)."
        ),
    )
    callback_key_token = forms.CharField(required=False, widget=forms.HiddenInput)
    use_shared_callback = forms.TypedChoiceField(
        label=capfirst(_model_field("use_shared_callback").verbose_name),
        help_text=_model_field("use_shared_callback").help_text,
        choices=[
            (str(value), label) for value, label in _model_field("use_shared_callback").choices
        ],
        coerce=lambda value: value == "True",
        # Absent from a form posted without it: this integration's own URL.
        required=False,
        empty_value=False,
        initial="False",
        widget=forms.RadioSelect,
    )
    identifier_source = forms.TypedChoiceField(
        label=capfirst(_model_field("identifier_source").verbose_name),
        help_text=_model_field("identifier_source").help_text,
        choices=IdentifierSource.choices,
        # Absent from a form posted without it (the seven fields alone): automatic.
        required=False,
        empty_value=IdentifierSource.AUTOMATIC,
        initial=IdentifierSource.AUTOMATIC,
    )
    client_secret = forms.CharField(
        label="Client secret",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    authorization_endpoint = _url_field("authorization_endpoint", required=True)
    token_endpoint = _url_field("token_endpoint", required=True)
    profile_endpoint = _url_field("profile_endpoint", required=False)
    jwks_uri = _url_field("jwks_uri", required=False)
    connect_timeout = _timeout_field("connect_timeout")
    read_timeout = _timeout_field("read_timeout")

    class Meta:
        model = OAuthIntegration
        fields = [
            "account",
            "display_name",
            "enabled",
            "authorization_endpoint",
            "token_endpoint",
            "use_shared_callback",
            "client_id",
            "client_auth_method",
            "scope",
            "use_pkce",
            "profile_endpoint",
            "issuer",
            "jwks_uri",
            "iss_parameter_supported",
            "identifier_source",
            "identifier_field",
            "connect_timeout",
            "read_timeout",
        ]
        widgets = {
            "client_auth_method": forms.RadioSelect,
            "scope": forms.TextInput(attrs={"size": 70}),
            "issuer": forms.TextInput(attrs={"size": 70}),
            "identifier_field": forms.TextInput(attrs={"size": 40}),
        }

    # Saving looks for the IdP's discovery document when the settings need keys it may name;
    # Test connection, which tests the screen's values as they are, does not.
    automatic_discovery = True

    @sensitive_variables("stored")
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Notes for the administrator after a successful save (e.g. from discovery): warnings
        # for what may not work, notes for what was done for them.
        self.warnings: list[str] = []
        self.notes: list[str] = []
        self.discovered: DiscoveryResult | None = None
        if "display_name" in self.fields:
            # The model's help text has "<display name>", which the admin would read as a tag.
            self.fields[
                "display_name"
            ].help_text = "Shown to participants on the login button: “Log in with …”."
        self._callback_key_refused = ""
        if not self.instance.pk:
            self._take_callback_key()
        self.initial["callback_url"] = own_callback_url(self.instance)
        # Never carry the stored secret in the form, not even as initial data.
        self.initial.pop("client_secret", None)
        stored = self.instance.client_secret if self.instance.pk else ""
        secret = self.fields["client_secret"]
        if isinstance(stored, UndecryptableSecret):
            secret.required = True
            secret.help_text = (
                "The stored client secret can no longer be decrypted (the encryption key "
                "changed). Enter the client secret again."
            )
            secret.error_messages["required"] = (
                "The stored client secret can no longer be decrypted. Enter the client secret "
                "again."
            )
        elif stored:
            secret.help_text = (
                "A secret is stored; it is never shown again. Leave this empty to keep it, or "
                "enter a new one to replace it."
            )
        else:
            secret.required = True
            secret.help_text = "As generated by your identity provider. Stored encrypted."
        if "discovery_url" in self.fields and self._raw("discovery_url").strip():
            # Discovery may fill these in; they are checked again in clean().
            for name in REQUIRED_ENDPOINTS:
                if name in self.fields:
                    self.fields[name].required = False

    def _take_callback_key(self) -> None:
        """The add page's key: the one the page showed (signed), or a new one."""
        token = self._raw("callback_key_token")
        if token:
            try:
                key = signing.loads(token, salt=CALLBACK_KEY_SALT, max_age=CALLBACK_KEY_MAX_AGE)
            except signing.BadSignature:
                self._callback_key_refused = (
                    "This page is too old: the callback URL it shows is no longer reserved. "
                    "Reload the page, register the URL it then shows, and save again."
                )
            else:
                if OAuthIntegration.objects.filter(callback_key=key).exists():
                    self._callback_key_refused = (
                        "This form was already saved: open the integration from the list."
                    )
                else:
                    self.instance.callback_key = key
        self.initial["callback_key_token"] = signing.dumps(
            self.instance.callback_key, salt=CALLBACK_KEY_SALT
        )

    def clean_callback_key_token(self):
        if self._callback_key_refused:
            raise ValidationError(self._callback_key_refused)
        return ""

    def _raw(self, name: str) -> str:
        value = self.data.get(self.add_prefix(name), "") if self.is_bound else ""
        return value if isinstance(value, str) else ""

    # ------------------------------------------------------------------------ fields
    def clean_client_id(self):
        value = self.cleaned_data["client_id"]
        if _has_control_characters(value):
            raise ValidationError("The client ID must not contain control characters.")
        return value

    @sensitive_variables("value", "stored")
    def clean_client_secret(self):
        value = self.cleaned_data.get("client_secret", "")
        if value:
            if _has_control_characters(value):
                raise ValidationError(
                    "The client secret must not contain control characters (line breaks, "
                    "tabs…); copy it again from your IdP."
                )
            return value
        stored = self.instance.client_secret if self.instance.pk else ""
        if isinstance(stored, UndecryptableSecret):
            raise ValidationError(
                "The stored client secret can no longer be decrypted. Enter the client secret "
                "again.",
                code="undecryptable",
            )
        if not stored:
            raise ValidationError("Enter the client secret.", code="required")
        # Blank on edit: keep the stored secret.
        return stored

    def clean_authorization_endpoint(self):
        value = self.cleaned_data["authorization_endpoint"].strip()
        if value:
            self._check_authorization_endpoint(value)
        return value

    def _check_authorization_endpoint(self, value: str) -> None:
        try:
            check_authorization_endpoint(value)
        except OAuthError as exc:
            raise ValidationError(str(exc)) from None

    def clean_scope(self):
        value = self.cleaned_data["scope"]
        if "," in value:
            value = self._scope_without_commas(value)
        tokens = [token for token in value.strip(" ").split(" ") if token]
        for token in tokens:
            if not _SCOPE_TOKEN.fullmatch(token):
                raise ValidationError(
                    "“%(token)s” is not a valid scope: scopes are separated by single spaces "
                    'and use visible ASCII characters other than " and \\.',
                    params={"token": token},
                )
        return " ".join(tokens)

    def _scope_without_commas(self, value: str) -> str:
        """`openid,email,profile` → `openid email profile`, said in a note.

        A comma is a legal scope character (RFC 6749 §3.3), and a few plain OAuth 2.0 IdPs
        (Strava, Slack) want their scopes as one comma-separated value, which is then sent as
        typed. OpenID Connect needs `openid` as a scope of its own, and commas beside spaces
        are a typing slip: both are separated by spaces.
        """
        parts = [part for part in re.split(r"[\s,]+", value) if part]
        if "openid" not in parts and not re.search(r"\S\s+\S", value.strip()):
            self.notes.append(
                f"The token scope “{value.strip()}” is sent as one comma-separated value, as "
                "some IdPs (Strava, Slack) ask. IdPs that follow OAuth 2.0 or OpenID Connect "
                "separate scopes with spaces: write them so for those."
            )
            return value
        normalised = " ".join(parts)
        self.notes.append(
            f"Scopes are separated by spaces (RFC 6749 §3.3): the token scope is “{normalised}”."
        )
        return normalised

    def clean_issuer(self):
        value = self.cleaned_data["issuer"].strip()
        if not value:
            return value
        try:
            check_url(value, purpose=Purpose.IDP, resolve=False)
        except DisallowedURLError as exc:
            raise ValidationError(str(exc)) from None
        if "?" in value:
            # RFC 8414 §2: an issuer has no query or fragment.
            raise ValidationError("The issuer must not contain a query (?…).")
        return value

    def clean_discovery_url(self):
        return self.cleaned_data["discovery_url"].strip()

    # ------------------------------------------------------------------------ form
    def clean(self):
        cleaned = super().clean()
        url = cleaned.get("discovery_url")
        if url and not self.has_error("discovery_url"):
            timeout = (
                cleaned.get("connect_timeout") or DEFAULT_TIMEOUT[0],
                cleaned.get("read_timeout") or DEFAULT_TIMEOUT[1],
            )
            try:
                self.discovered = discover(url, timeout=timeout)
            except DiscoveryError as exc:
                self.add_error("discovery_url", str(exc))
            else:
                self._apply_discovery(cleaned, self.discovered)
        elif self.automatic_discovery and self._needs_keys(cleaned):
            self._discover_from_endpoints(cleaned)
        for name in REQUIRED_ENDPOINTS:
            if name in self.fields and not cleaned.get(name) and not self.has_error(name):
                self.add_error(
                    name,
                    ValidationError(
                        "This field is required (or import it from a discovery URL).",
                        code="required",
                    ),
                )
        self._verify_issuer(cleaned)
        self._check_identifier(cleaned)
        return cleaned

    def _check_identifier(self, cleaned: dict) -> None:
        source = cleaned.get("identifier_source")
        field = (cleaned.get("identifier_field") or "").strip()
        cleaned["identifier_field"] = field
        if source is None or self.has_error("identifier_field"):
            return
        if source == IdentifierSource.AUTOMATIC:
            if field:
                self.add_error(
                    "identifier_field",
                    "Choose where the participant identifier comes from, or leave this empty: "
                    "the automatic choice reads the id_token's sub or the profile's id.",
                )
            return
        if source == IdentifierSource.TOKEN and not field:
            self.add_error(
                "identifier_field",
                "Enter where the identifier sits in the token endpoint's answer, e.g. user_id, "
                "athlete.id or authed_user.id.",
            )
            return
        if field:
            try:
                path_parse(text=f"{source}{'' if field.startswith('[') else '.'}{field}")
            except PathError as exc:
                self.add_error("identifier_field", f"This is not a field path: {exc}.")

    # ------------------------------------------------------------------------ discovery
    @staticmethod
    def _needs_keys(cleaned: dict) -> bool:
        """The settings ask for signed tokens (an id_token, or a JWT access token naming the
        participant) and no JWKS URI says where the keys are."""
        if cleaned.get("jwks_uri"):
            return False
        openid = "openid" in (cleaned.get("scope") or "").split()
        return openid or cleaned.get("identifier_source") == IdentifierSource.ACCESS_TOKEN

    def _discover_from_endpoints(self, cleaned: dict) -> None:
        """The seven fields are enough: find the IdP's document from the typed endpoints, and
        take from it the issuer, keys and profile endpoint (see discover_from_endpoints)."""
        authorization = cleaned.get("authorization_endpoint")
        token = cleaned.get("token_endpoint")
        if not authorization or not token or self.has_error("authorization_endpoint"):
            return
        if self.has_error("token_endpoint"):
            return
        search = discover_from_endpoints(
            authorization_endpoint=authorization,
            token_endpoint=token,
            timeout=(
                cleaned.get("connect_timeout") or DEFAULT_TIMEOUT[0],
                cleaned.get("read_timeout") or DEFAULT_TIMEOUT[1],
            ),
        )
        found = search.found
        typed_issuer = cleaned.get("issuer")
        if found is not None and typed_issuer and typed_issuer != found.issuer:
            self.warnings.append(
                f"Your IdP's discovery document at {search.document_url} names the issuer "
                f"“{found.issuer}”, not the one entered; nothing was taken from it. Correct the "
                "issuer, or import from the discovery URL."
            )
            return
        if found is None:
            why = f" (the one at {search.document_url}: {search.refusal})" if search.refusal else ""
            self.warnings.append(
                "No usable discovery document was found for these endpoints"
                f"{why}. id_token signatures are not checked for this integration: id_tokens are "
                "accepted because they come straight from your token endpoint over TLS. Enter "
                "the JWKS URI and issuer (Advanced), or import from the discovery URL, to check "
                "them."
            )
            return
        self.discovered = found
        filled = []
        # Userinfo answers only tokens issued for openid (OIDC Core §5.3).
        userinfo = found.userinfo_endpoint if "openid" in cleaned.get("scope", "").split() else ""
        for name, value, label in (
            ("issuer", found.issuer, "issuer"),
            ("jwks_uri", found.jwks_uri, "JWKS URI"),
            ("profile_endpoint", userinfo, "profile endpoint"),
        ):
            if value and not cleaned.get(name) and self._fill(cleaned, name, value):
                filled.append(f"{label} {value}")
        if found.authorization_response_iss_parameter_supported:
            self._fill(cleaned, "iss_parameter_supported", True)
        self.instance.token_endpoint_auth_methods_supported = list(
            found.token_endpoint_auth_methods_supported
        )
        self.notes.append(
            f"Found your IdP's discovery document at {search.document_url}; it names the "
            f"endpoints entered. Filled in: {', '.join(filled) or 'nothing new'}."
        )
        if not found.jwks_uri:
            self.warnings.append(
                "Your IdP's discovery document names no JWKS URI: id_token signatures are not "
                "checked for this integration (id_tokens are accepted because they come straight "
                "from your token endpoint over TLS)."
            )

    def _verify_issuer(self, cleaned: dict) -> None:
        """Record what discovery vouched for, drop the mark on a hand edit, and allow the shared
        callback URL only where a mix-up cannot happen (verified issuer that sends `iss`)."""
        if self.discovered is not None:
            found = self.discovered
            self.instance.discovered_settings = {
                "issuer": found.issuer,
                "authorization_endpoint": found.authorization_endpoint,
                "token_endpoint": found.token_endpoint,
                "jwks_uri": found.jwks_uri,
            }
        elif any(name in self.changed_data for name in VERIFIED_SETTINGS):
            self.instance.discovered_settings = {}
        found = self.instance.discovered_settings or {}
        verified = bool(cleaned.get("issuer")) and all(
            found.get(name) == cleaned.get(name) for name in VERIFIED_SETTINGS
        )
        # A switched-off integration may keep its choice: the administrator may be disabling it.
        if (
            cleaned.get("use_shared_callback")
            and cleaned.get("enabled")
            and not (verified and cleaned.get("iss_parameter_supported"))
            and not self.has_error("use_shared_callback")
        ):
            self.add_error(
                "use_shared_callback",
                "The shared callback URL is only accepted for an issuer verified by the "
                "discovery import (endpoints not edited by hand since) whose IdP sends the iss "
                "parameter. Register this integration's own callback URL at your IdP and "
                "select it, or import from the discovery URL.",
            )

    def _fill(self, cleaned: dict, name: str, value) -> bool:
        """Take the discovered value unless the administrator typed one in this submission."""
        if name not in self.fields or self.has_error(name):
            return False
        if cleaned.get(name) and name in self.changed_data:
            return False
        cleaned[name] = value
        return True

    def _apply_discovery(self, cleaned: dict, found: DiscoveryResult) -> None:
        typed_issuer = cleaned.get("issuer")
        if typed_issuer and "issuer" in self.changed_data and typed_issuer != found.issuer:
            self.add_error(
                "issuer",
                "The discovery document names another issuer; leave this empty to take it "
                "from there.",
            )
        if self._fill(cleaned, "authorization_endpoint", found.authorization_endpoint):
            try:
                self._check_authorization_endpoint(found.authorization_endpoint)
            except ValidationError as exc:
                self.add_error("discovery_url", exc)
        self._fill(cleaned, "token_endpoint", found.token_endpoint)
        if found.userinfo_endpoint:
            self._fill(cleaned, "profile_endpoint", found.userinfo_endpoint)
        if found.jwks_uri:
            self._fill(cleaned, "jwks_uri", found.jwks_uri)
        self._fill(cleaned, "issuer", found.issuer)
        self._fill(
            cleaned, "iss_parameter_supported", found.authorization_response_iss_parameter_supported
        )
        # Not a form field: a hint shown read-only, refreshed by every import.
        self.instance.token_endpoint_auth_methods_supported = list(
            found.token_endpoint_auth_methods_supported
        )

        if not cleaned.get("scope") and not self.has_error("scope"):
            listed = found.scopes_supported
            proposed = [name for name in PROPOSED_SCOPES if not listed or name in listed]
            # Without a list, openid alone: an OpenID Connect provider must support it.
            cleaned["scope"] = " ".join(proposed if listed else ["openid"])
            if cleaned["scope"]:
                self.notes.append(
                    f"Token scope proposed from your IdP's discovery document: "
                    f"“{cleaned['scope']}”. Ask only for what the campaign forms need."
                )
        if (
            "S256" in found.code_challenge_methods_supported
            and not cleaned.get("use_pkce")
            and "use_pkce" not in self.changed_data
        ):
            cleaned["use_pkce"] = True
            self.notes.append("PKCE turned on: your IdP supports it with S256.")

        method = cleaned.get("client_auth_method")
        supported = found.token_endpoint_auth_methods_supported
        if method and method not in supported:
            labels = [m for m in supported if m in ClientAuthMethod.values] or list(supported)
            self.warnings.append(
                (
                    f"Your IdP lists {', '.join(labels)} as its client authentication methods; "
                    if labels
                    else "Your IdP lists no client authentication method; "
                )
                + f"“{ClientAuthMethod(method).label}” may be refused. Test the connection."
            )
        if cleaned.get("use_pkce") and "S256" not in found.code_challenge_methods_supported:
            self.warnings.append(
                "Your IdP does not list PKCE with S256 among its supported methods; logins may "
                "fail with PKCE on."
            )
