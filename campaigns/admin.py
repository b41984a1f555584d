from django.conf import settings
from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html, format_html_join
from django.utils.translation import ngettext

from accounts.admin import AccountScopedAdmin, AccountScopedInline
from accounts.permissions import Capability, is_platform_staff
from campaigns.embed_code import campaign_embed_code
from campaigns.forms import CampaignAdminForm, CampaignFieldAdminForm, default_field_initial
from campaigns.models import Campaign, CampaignField
from core.links import link_url
from integrations.models import OAuthIntegration


class CampaignFieldInline(AccountScopedInline, admin.TabularInline):
    model = CampaignField
    form = CampaignFieldAdminForm
    capability = Capability.MANAGE_CAMPAIGNS
    account_path = "campaign__account"
    extra = 0
    verbose_name = "form field"
    verbose_name_plural = "form fields (drag ↕ or edit the positions to reorder them)"

    class Media:
        js = ["campaigns/admin/field_order.js"]

    def get_extra(self, request, obj=None, **kwargs):
        # A new campaign proposes firstname, lastname and e-mail (see `get_formset_kwargs`).
        return len(default_field_initial()) if obj is None or obj.pk is None else 0


@admin.register(Campaign)
class CampaignAdmin(AccountScopedAdmin):
    capability = Capability.MANAGE_CAMPAIGNS
    form = CampaignAdminForm
    list_display = ["title", "slug", "status", "starts_at", "ends_at", "statistics", "public_page"]
    list_filter = ["status"]
    search_fields = ["title", "title_fr", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    readonly_fields = ["statistics", "embed_code"]
    inlines = [CampaignFieldInline]
    fieldsets = [
        (
            "Campaign",
            {"fields": ["account", "title", "title_fr", "slug", "description", "description_fr"]},
        ),
        (
            "Publication",
            {
                "fields": ["status", "starts_at", "ends_at", "languages"],
                "description": "When and in which languages participants can take part.",
            },
        ),
        (
            "Participation",
            {"fields": ["participation_limit", "statistics"]},
        ),
        (
            "Single sign-on",
            {
                "fields": ["oauth_integration", "sso_mode", "prefill_mode"],
                "description": (
                    "Let participants log in with your identity provider and find the form "
                    "prefilled. Only your account's enabled OAuth 2.0 integrations are listed."
                ),
            },
        ),
        (
            "Participants' data",
            {
                "fields": ["privacy_policy_url", "participation_retention_days"],
                "description": (
                    "What participants are told about their data, next to the login button, "
                    "and how long their participations are kept once the campaign has ended."
                ),
            },
        ),
        (
            "Embedding",
            {
                "fields": ["embedding", "embed_allowed_origins", "embed_code"],
                "description": (
                    "Show the campaign inside your own site, in a frame. Only the sites listed "
                    "may do so; everywhere else browsers refuse to show it."
                ),
            },
        ),
    ]

    class Media:
        js = ["integrations/copy_to_clipboard.js"]

    def get_fieldsets(self, request, obj=None):
        hidden = set()
        if self._single_account(request) is not None:
            hidden.add("account")  # users with one account do not pick it (see get_exclude)
        if obj is None:
            hidden.update({"statistics", "embed_code"})  # nothing to count or embed yet
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in hidden]})
            for name, options in super().get_fieldsets(request, obj)
        ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(participation_count=Count("participations"))

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.default_account = self._single_account(request)
        field = form.base_fields.get("oauth_integration")
        if field is not None:
            account = obj.account if obj is not None else form.default_account
            # Only integrations participants may log in with: platform staff's switches too.
            integrations = OAuthIntegration.objects.filter(
                enabled=True, account__is_active=True, account__sso_oauth_enabled=True
            )
            if account is not None:
                integrations = integrations.filter(account=account)
            elif not is_platform_staff(request.user):
                integrations = integrations.filter(account__in=field.queryset.values("account"))
            if obj is not None and obj.oauth_integration_id:
                # Keep the current one selectable even if it was switched off since.
                integrations = integrations | OAuthIntegration.objects.filter(
                    pk=obj.oauth_integration_id
                )
            field.queryset = integrations.select_related("account")
            field.help_text = "None: the form is filled by hand."
        retention = form.base_fields.get("participation_retention_days")
        if retention is not None:
            account = obj.account if obj is not None else form.default_account
            if account is not None:
                default = f"your account's default ({account.retention_days} days)"
            else:
                platform = settings.PARTICIPATION_RETENTION_DAYS
                default = f"the account's default (the platform's: {platform} days)"
            retention.help_text = (
                "Days the participations are kept after the campaign ends (its end time, or when "
                f"its status was set to ended); then they are deleted. Blank: {default}."
            )
        return form

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, CampaignFieldInline) and (obj is None or obj.pk is None):
            kwargs["initial"] = default_field_initial()
        return kwargs

    @admin.display(description="Statistics")
    def statistics(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        count = getattr(obj, "participation_count", None)
        if count is None:
            count = obj.participations.count()
        participations = ngettext("%(count)d participation", "%(count)d participations", count) % {
            "count": count
        }
        # The pages are participants'; a link no app provides is left out (core/links.py).
        links = [
            (link_url(name, campaign_id=obj.pk), text)
            for name, text in (
                ("campaign_statistics", "Statistics"),
                ("campaign_participations", participations),
                ("campaign_participations_csv", "CSV"),
                ("campaign_participations_xlsx", "XLSX"),
            )
        ]
        if not any(url for url, _text in links):
            return participations
        return format_html_join(
            " · ", '<a href="{}">{}</a>', ((url, text) for url, text in links if url)
        )

    @admin.display(description="embed code")
    def embed_code(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        code = campaign_embed_code(obj, base_url=settings.PUBLIC_BASE_URL)
        if not code:
            return "—"
        origins = obj.frame_ancestors
        if origins:
            where = format_html("Allowed on: {}.", ", ".join(origins))
        else:
            where = "No site may show it yet: list yours above (or in your account), then save."
        return format_html(
            '<pre id="campaign-embed-code" style="white-space: pre-wrap">{}</pre>'
            '<p><button type="button" class="button" data-copy-target="campaign-embed-code">'
            "Copy</button></p>"
            '<p class="help">{} Paste the code where the campaign should appear; the script is '
            "optional and lets the frame take the campaign's height. Participants log in in a "
            "small window of ours; no third-party cookie is needed.</p>",
            code,
            where,
        )

    @admin.display(description="public page")
    def public_page(self, obj):
        if not obj.get_absolute_url():
            return "—"
        return format_html(
            '<a href="{0}" target="_blank" rel="noopener">{0}</a>', obj.get_absolute_url()
        )
