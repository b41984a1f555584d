import logging

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.admin import AccountScopedAdmin
from accounts.permissions import Capability, can_anywhere, is_platform_staff
from core.links import link_url
from integrations.admin_filters import IntegrationCategoryFilter, other_category_redirect
from integrations.fields import UndecryptableSecret
from integrations.models import IdentifierSource, SignInAlert
from integrations.oauth.alerts import active_alert, activity_log_link, alert_summary
from integrations.oauth.diagnostics import integration_test_connection, tested_values
from integrations.oauth.forms import OAuthIntegrationForm
from integrations.oauth.redirect_uri import own_callback_url, shared_callback_url

logger = logging.getLogger(__name__)

# Test connection calls the customer's IdP with their credentials: one test per integration in
# this interval, whoever clicks (shared through the cache by every web process), so that a
# double click or a hurried administrator cannot hammer the IdP or trip its lockout.
TEST_CONNECTION_INTERVAL_SECONDS = 10


def _test_connection_allowed(integration) -> bool:
    try:
        return cache.add(
            f"oauth-test-connection:{integration.pk}", True, TEST_CONNECTION_INTERVAL_SECONDS
        )
    except Exception:  # a cache outage must not take the button away: the IdP's limits remain
        logger.warning("Test connection not throttled: the cache is unavailable.", exc_info=True)
        return True


# ---------------------------------------------------------------------------- OAuth 2.0
# The profile-mapping pages (integrations/mapping/admin.py) linked from the change page: label,
# admin URL name, arguments after the integration's id. Uploading is a form on the mapping page
# (platform staff only), not a page of its own.
MAPPING_LINKS = [
    ("Mapping rules and history", "admin:integrations_mapping_overview", []),
    ("Download the mapping template (XLSX)", "admin:integrations_mapping_template", ["xlsx"]),
    ("Download the mapping template (CSV)", "admin:integrations_mapping_template", ["csv"]),
    ("Preview the mapping", "admin:integrations_mapping_preview", []),
]


def mapping_links(request, integration) -> list[tuple[str, str]]:
    """(url, label) of the profile-mapping pages, for an integration the user may manage."""
    links = []
    for label, name, args in MAPPING_LINKS:
        try:
            url = reverse(name, args=[integration.pk, *args])
        except NoReverseMatch:  # an admin site without the mapping pages
            continue
        if name == "admin:integrations_mapping_overview" and is_platform_staff(request.user):
            label = "Mapping rules, upload and history"
        links.append((url, label))
    return links


def identifier_summary(integration) -> str:
    """Where the participant identifier comes from, in words."""
    source, field = integration.identifier_source, integration.identifier_field
    if source == IdentifierSource.AUTOMATIC:
        if integration.is_openid:
            return "The id_token's sub."
        return "The profile endpoint's sub (or id, UID, user_id)."
    where = {
        IdentifierSource.ID_TOKEN: "the id_token",
        IdentifierSource.USERINFO: "the profile endpoint's answer",
        IdentifierSource.TOKEN: "the token endpoint's answer",
        IdentifierSource.ACCESS_TOKEN: "the JWT access token (RFC 9068, signature checked)",
    }[source]
    default = "sub, id, UID or user_id" if source == IdentifierSource.USERINFO else "sub"
    return f"“{field or default}” of {where}."


def _alert_message(integration, alert: SignInAlert) -> str:
    return (
        f"Participants cannot log in with {integration.display_name}: {alert_summary(alert)}. "
        f"{alert.advice_text}"
    )


class OAuthIntegrationAdmin(AccountScopedAdmin):
    # Administrators keep seeing their integrations, read-only with the reason, when platform
    # staff switch the account or its entitlement off; changing them needs both.
    capability = Capability.VIEW_OAUTH
    edit_capability = Capability.MANAGE_OAUTH
    form = OAuthIntegrationForm
    list_display = [
        "display_name",
        "availability_summary",
        "client_id",
        "client_auth_method",
        "use_pkce",
        "last_test_summary",
        "sign_in_state",
    ]
    list_select_related = ["sign_in_alert", "account"]
    list_display_links = ["display_name"]
    list_filter = [IntegrationCategoryFilter, "enabled"]
    search_fields = ["display_name", "client_id"]
    actions = ["test_connection"]
    readonly_fields = [
        "availability",
        "oauth_callback_url",
        "issuer_verification",
        "client_secret_status",
        "token_endpoint_auth_methods_supported_hint",
        "id_token_signatures",
        "identifier_status",
        "last_test_status",
        "last_test_at",
        "last_test_by",
        "sign_in_alert_status",
    ]
    # The tester's name only (a link to the user admin would lead customers to a page they may
    # not see), and "Platform staff" to customers for someone who is not their member.
    user_fields = {"last_test_by": "Tested by"}

    class Media:
        js = ["integrations/copy_to_clipboard.js"]
        css = {"all": ["integrations/oauth_admin.css"]}

    # ------------------------------------------------------------------------ form layout
    def get_fieldsets(self, request, obj=None):
        editable = self.has_change_permission(request, obj)
        identity = ["display_name", "enabled"]
        if obj is not None:
            identity.insert(0, "availability")
        if "account" not in self.get_exclude(request, obj):
            identity.insert(0, "account")
        endpoints = ["authorization_endpoint", "token_endpoint"]
        if editable:
            endpoints.insert(0, "discovery_url")
        fieldsets = [
            (
                "Identity provider",
                {
                    "fields": [
                        *identity,
                        *endpoints,
                        # A form field where the page is editable: the add page shows the URL
                        # the integration will have, before it is saved.
                        *(["callback_url", "callback_key_token"] if editable else []),
                        *([] if editable else ["oauth_callback_url"]),
                        "use_shared_callback",
                    ],
                    "description": (
                        "Register the callback URL below at your identity provider (IdP), then "
                        "copy its endpoints here, or paste its discovery URL to fill them in."
                    ),
                },
            ),
            (
                "Client credentials",
                {
                    "fields": [
                        "client_id",
                        # Read-only pages never show the secret, not even decrypted for display.
                        "client_secret" if editable else "client_secret_status",
                        "client_auth_method",
                    ]
                },
            ),
            ("Options", {"fields": ["scope", "use_pkce"]}),
            (
                "Participant identifier",
                {
                    "fields": [
                        *([] if obj is None else ["identifier_status"]),
                        "identifier_source",
                        "identifier_field",
                    ],
                    "description": (
                        "What names a participant, so that the same person is recognised at "
                        "every login. The automatic choice suits OpenID Connect and profile "
                        "endpoints; some IdPs put the user in the token answer instead "
                        "(user_id, athlete.id, authed_user.id) or in a JWT access token."
                    ),
                },
            ),
            (
                "Advanced",
                {
                    "fields": [
                        "profile_endpoint",
                        "issuer",
                        "issuer_verification",
                        "jwks_uri",
                        *([] if obj is None else ["id_token_signatures"]),
                        "iss_parameter_supported",
                        "token_endpoint_auth_methods_supported_hint",
                        "connect_timeout",
                        "read_timeout",
                    ],
                    "description": "Optional. Usually filled in by the discovery import.",
                },
            ),
        ]
        if obj is not None:
            fieldsets += [
                (
                    "Connection test",
                    {"fields": ["last_test_status", "last_test_at", "last_test_by"]},
                ),
                ("Participants' sign-ins", {"fields": ["sign_in_alert_status"]}),
            ]
        return self.fieldsets_with_user_fields(request, fieldsets)

    def has_module_permission(self, request):
        # Listed for those who may configure an integration, and for Administrators whose
        # account still has integrations after platform staff switched it off (read-only).
        if can_anywhere(request.user, Capability.MANAGE_OAUTH):
            return True
        return can_anywhere(request.user, self.capability) and self.get_queryset(request).exists()

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return self.has_module_permission(request)
        return super().has_view_permission(request, obj)

    @admin.display(description="Participants' logins")
    def availability(self, obj):
        reason = obj.unavailable_reason() if obj else ""
        if not reason:
            return format_html(
                '<span class="oauth-test-ok">✔ {}</span>', "Participants can log in."
            )
        return format_html(
            '<strong class="oauth-test-failed">⚠ Participants cannot log in.</strong> {}', reason
        )

    @admin.display(description="Logins")
    def availability_summary(self, obj):
        reason = obj.unavailable_reason()
        if not reason:
            return format_html('<span class="oauth-test-ok">{}</span>', "✔ On")
        return format_html('<span class="oauth-test-failed" title="{}">⚠ Off</span>', reason)

    @admin.display(description="Client secret")
    def client_secret_status(self, obj):
        return "Stored (never shown)." if obj and obj.client_secret else "Not set."

    @admin.display(description="Callback URL")
    def oauth_callback_url(self, obj=None):
        """The read-only page's callback URL (the editable form shows it as a field)."""
        if obj is None:
            return "—"
        return format_html(
            '<code id="oauth-callback-url">{}</code> '
            '<button type="button" class="button" data-copy-target="oauth-callback-url">'
            "Copy</button>",
            own_callback_url(obj),
        )

    @admin.display(description="Issuer verified")
    def issuer_verification(self, obj=None):
        if obj is None or not obj.issuer_verified:
            return format_html(
                '<span>{}</span><div class="help">{}</div>',
                "✘ Not verified.",
                "Import from the discovery URL to verify the issuer: the endpoints are then read "
                "from the document your IdP serves at its issuer. A hand edit of the issuer or "
                "an endpoint removes the mark. Without it, only this integration's own callback "
                f"URL works; the shared URL {shared_callback_url()} is refused.",
            )
        if obj.iss_parameter_supported:
            allows = (
                "Your IdP sends the iss parameter: the shared callback URL "
                f"{shared_callback_url()} may be used, and its answers must carry iss."
            )
        else:
            allows = (
                "Your IdP does not send the iss parameter, so the shared callback URL cannot be "
                "used: register this integration's own."
            )
        return format_html(
            '<span class="oauth-test-ok">✔ {}</span><div class="help">{} {}</div>',
            "Verified",
            f"The issuer and endpoints are those of {obj.issuer}/.well-known/openid-configuration"
            ", not edited since.",
            allows,
        )

    @admin.display(description="ID token signatures")
    def id_token_signatures(self, obj=None):
        if obj is None or not obj.is_openid:
            return "No id_token is asked for (the token scope has no openid)."
        if obj.id_token_signatures_unchecked:
            return format_html(
                '<strong class="oauth-test-failed">⚠ {}</strong><div class="help">{}</div>',
                "Not checked for this integration.",
                "No JWKS URI is known, so id_tokens are accepted without checking their "
                "signature, because they come straight from your token endpoint over TLS "
                "(OpenID Connect Core §3.1.3.7); their audience, expiry, issue time and nonce "
                "are still checked. Enter the JWKS URI and issuer, or import from the discovery "
                "URL, to check signatures.",
            )
        return format_html(
            '<span class="oauth-test-ok">✔ {}</span>',
            f"Checked with the keys at {obj.jwks_uri}.",
        )

    @admin.display(description="Participant identifier")
    def identifier_status(self, obj=None):
        problem = obj.identifier_problem() if obj else ""
        if problem:
            return format_html(
                '<strong class="oauth-test-failed">⚠ {}</strong> {}',
                "No participant can be identified.",
                problem,
            )
        return format_html('<span class="oauth-test-ok">✔ {}</span>', identifier_summary(obj))

    @admin.display(description="Methods your IdP supports")
    def token_endpoint_auth_methods_supported_hint(self, obj=None):
        methods = obj.token_endpoint_auth_methods_supported if obj else []
        if not methods:
            return "Unknown (import from a discovery URL to find out)."
        return ", ".join(str(method) for method in methods)

    @admin.display(description="Last test")
    def last_test_summary(self, obj):
        if obj.last_test_at is None:
            return "Never tested"
        return format_html(
            '<span class="{}">{}</span>',
            "oauth-test-ok" if obj.last_test_ok else "oauth-test-failed",
            "✔ Passed" if obj.last_test_ok else "✘ Failed",
        )

    @admin.display(description="Last test")
    def last_test_status(self, obj):
        if obj is None or obj.last_test_at is None:
            return "Never tested"
        return format_html(
            '<span class="{}">{}</span> {}',
            "oauth-test-ok" if obj.last_test_ok else "oauth-test-failed",
            "✔ Passed" if obj.last_test_ok else "✘ Failed",
            obj.last_test_message,
        )

    @admin.display(description="Sign-ins")
    def sign_in_state(self, obj):
        alert = active_alert(obj)
        if alert is None:
            return "No problem recorded"
        return format_html('<span class="oauth-test-failed">⚠ Failing: {}</span>', alert.error_code)

    @admin.display(description="Sign-in alert")
    def sign_in_alert_status(self, obj):
        link = activity_log_link(obj.pk) if obj else ""
        alert = active_alert(obj)
        if alert is None:
            text = (
                "No problem recorded: participants' logins have not failed for a reason that "
                "needs you since the last successful login."
            )
        else:
            text = format_html(
                '<strong class="oauth-test-failed">⚠ {}</strong> (last at {}, error reference '
                "{}).<br>{}<br>The alert ends with the next successful login; a Test login "
                "counts.",
                alert_summary(alert),
                f"{alert.last_at:%H:%M}",
                alert.last_reference or "—",
                alert.advice_text,
            )
        if not link:
            return text
        return format_html(
            '{}<div class="help"><a href="{}">SSO activity log</a></div>', text, link
        )

    # ------------------------------------------------------------------------ views
    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Outside the user's accounts (or gone): a plain 404 on every URL, rather than the
            # admin's redirect with a "doesn't exist" message.
            raise Http404("No such integration.")
        return obj

    def changelist_view(self, request, extra_context=None):
        # Only for those who may see this changelist: to the others, every URL here is a 403.
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)
        if url := other_category_redirect(request, "sso"):
            return HttpResponseRedirect(url)
        if request.method == "GET":
            alerts = SignInAlert.objects.filter(
                integration__in=self.get_queryset(request), cleared_at__isnull=True
            ).select_related("integration")
            for alert in alerts:
                messages.warning(request, _alert_message(alert.integration, alert))
        return super().changelist_view(request, extra_context)

    @method_decorator(sensitive_post_parameters("client_secret"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        reason = obj.unavailable_reason() if obj is not None and obj.pk else ""
        if reason and request.method == "GET":
            messages.warning(request, f"Participants cannot log in with this integration: {reason}")
        problem = obj.identifier_problem() if obj is not None and obj.pk else ""
        if problem and request.method == "GET":
            messages.warning(request, f"No participant can be identified: {problem}")
        if obj is not None and obj.pk and self.has_change_permission(request, obj):
            context["test_connection_url"] = reverse(
                "admin:integrations_oauthintegration_test_connection", args=[obj.pk]
            )
            # The real login flow, run as this administrator: it ends on a page with the
            # profile the IdP sent (redacted) and what the mapping makes of it.
            # (a participants' page, registered with core/links.py; no link when none is).
            context["test_login_url"] = link_url("integration_test_login", integration_id=obj.pk)
            context["secret_undecryptable"] = isinstance(obj.client_secret, UndecryptableSecret)
            context["mapping_links"] = mapping_links(request, obj)
            if request.method == "GET" and (alert := active_alert(obj)) is not None:
                messages.warning(request, _alert_message(obj, alert))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for note in getattr(form, "notes", []):
            messages.info(request, note)
        for warning in getattr(form, "warnings", []):
            messages.warning(request, warning)
        if problem := obj.identifier_problem():
            messages.warning(request, f"No participant can be identified: {problem}")
        if not obj.use_pkce:
            messages.info(
                request,
                "PKCE is off. Turn it on if your IdP supports it: it protects logins against "
                "stolen authorization codes.",
            )

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/test-connection/",
                self.admin_site.admin_view(self.test_connection_view),
                name="integrations_oauthintegration_test_connection",
            ),
        ]
        return urls + super().get_urls()

    @method_decorator(require_POST)
    @method_decorator(sensitive_post_parameters("client_secret"))
    def test_connection_view(self, request, object_id):
        """Test the values on the change page, as they are: the page's form posts here (its
        Test connection button), nothing is saved, and the page comes back with the edits."""
        saved = self.get_object(request, unquote(object_id))
        if not self.has_change_permission(request, saved):
            raise PermissionDenied
        fieldsets = self.get_fieldsets(request, saved)
        ModelForm = self.get_form(request, saved, change=True, fields=flatten_fieldsets(fieldsets))
        # A copy of its own: validating the form writes the screen's values onto its instance.
        form = ModelForm(
            request.POST, request.FILES, instance=self.get_object(request, unquote(object_id))
        )
        form.automatic_discovery = False  # test what is on the screen, nothing it would find
        if form.is_valid():
            self._report_test(
                request,
                form.instance,
                # Unchanged: these are the saved settings, and the page shows the result. Only
                # the result's columns are written (update_fields).
                record_on=None if form.has_changed() else form.instance,
                secret_typed="client_secret" in form.changed_data,
            )
        else:
            self.message_user(
                request,
                "Not tested: correct the errors below first. Nothing was saved.",
                messages.ERROR,
            )
        return self._change_form_again(request, saved, form, fieldsets)

    def _change_form_again(self, request, obj, form, fieldsets) -> HttpResponse:
        """The change page with the posted form, as the admin renders a refused save."""
        admin_form = helpers.AdminForm(
            form,
            list(fieldsets),
            self.get_prepopulated_fields(request, obj),
            self.get_readonly_fields(request, obj),
            model_admin=self,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Change %s") % self.opts.verbose_name,
            "subtitle": str(obj),
            "adminform": admin_form,
            "object_id": obj.pk,
            "original": obj,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
        }
        return self.render_change_form(request, context, change=True, obj=obj)

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request, queryset):
        for obj in queryset:
            if self.has_change_permission(request, obj):
                self._report_test(request, obj, record_on=obj, secret_typed=False)

    def _report_test(self, request, integration, *, record_on, secret_typed: bool) -> None:
        if not _test_connection_allowed(integration):
            self.message_user(
                request,
                f"{integration.display_name}: tested less than "
                f"{TEST_CONNECTION_INTERVAL_SECONDS} seconds ago. Wait a moment, then test again.",
                messages.WARNING,
            )
            return
        result = integration_test_connection(
            integration=integration, user=request.user, record_on=record_on
        )
        level = messages.SUCCESS if result.ok else messages.ERROR
        outcome = "Connection test passed" if result.ok else "Connection test failed"
        self.message_user(
            request, f"{integration.display_name}: {outcome}. {result.message}", level
        )
        values = tested_values(integration, secret_typed=secret_typed)
        if record_on is None:
            self.message_user(
                request,
                f"Tested the values on this page, which are not saved: {values}. Save to use "
                "them for logins; the result is not recorded until then.",
                messages.INFO,
            )
        else:
            self.message_user(request, f"Tested the saved settings: {values}.", messages.INFO)
