"""Statistics: the participations of the campaigns a user manages, read-only, and their export
(registered in participants/admin.py)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html, format_html_join

from accounts.admin import AccountScopedAdmin, ReadOnlyAdminMixin
from accounts.permissions import Capability, accounts_for, can, is_platform_staff
from campaigns.models import Campaign
from participants.exports import participations_csv_response, participations_xlsx_response
from participants.statistics import PERIODS, campaign_statistics, period_from


class _FlagFilter(admin.SimpleListFilter):
    """Yes/no on a JSON field that is empty ({} or []) when the flag is off."""

    empty: object = None

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        empty = Q(**{self.parameter_name: self.empty})
        if self.value() == "yes":
            return queryset.exclude(empty)
        if self.value() == "no":
            return queryset.filter(empty)
        return queryset


class PrefilledFilter(_FlagFilter):
    title = "prefilled by SSO"
    parameter_name = "prefilled"
    empty = {}


class ChangedFilter(_FlagFilter):
    title = "differs from the IdP's values"
    parameter_name = "changed"
    empty = []


# Statistics are a record: nobody adds or edits a participation by hand.
class ParticipationAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    capability = Capability.MANAGE_CAMPAIGNS
    account_path = "campaign__account"
    list_display = [
        "submitted_at",
        "campaign",
        "participant_subject",
        "language",
        "was_prefilled",
        "was_changed",
    ]
    list_filter = [
        ("campaign", admin.RelatedOnlyFieldListFilter),
        "submitted_at",
        PrefilledFilter,
        ChangedFilter,
        "language",
    ]
    list_select_related = ["campaign", "participant"]
    search_fields = ["campaign__title", "campaign__slug", "participant__subject", "values"]
    date_hierarchy = "submitted_at"
    fields = ["campaign", "submitted_at", "language", "participant_subject", "answers"]
    readonly_fields = fields

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "statistics/<int:campaign_id>/",
                wrap(self.statistics_view),
                name="participants_campaign_statistics",
            ),
            path(
                "export/<int:campaign_id>/",
                wrap(self.export_view),
                name="participants_participation_export",
            ),
            path(
                "export/<int:campaign_id>/xlsx/",
                wrap(self.export_xlsx_view),
                name="participants_participation_export_xlsx",
            ),
            *super().get_urls(),
        ]

    def _campaign_to_export(self, request, campaign_id: int) -> Campaign:
        campaigns = Campaign.objects.all()
        if not is_platform_staff(request.user):
            campaigns = campaigns.filter(account__in=accounts_for(request.user, self.capability))
        campaign = get_object_or_404(campaigns, pk=campaign_id)
        if not can(request.user, self.capability, campaign.account):
            raise PermissionDenied
        return campaign

    def statistics_view(self, request, campaign_id: int):
        campaign = self._campaign_to_export(request, campaign_id)
        statistics = campaign_statistics(
            campaign=campaign, period=period_from(request.GET.get("days"))
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Statistics: {campaign.title}",
            "campaign": campaign,
            "statistics": statistics,
            "periods": PERIODS,
        }
        return TemplateResponse(request, "admin/participants/campaign_statistics.html", context)

    def export_view(self, request, campaign_id: int):
        return participations_csv_response(self._campaign_to_export(request, campaign_id))

    def export_xlsx_view(self, request, campaign_id: int):
        return participations_xlsx_response(self._campaign_to_export(request, campaign_id))

    @admin.display(description="Participant (IdP subject)", ordering="participant__subject")
    def participant_subject(self, obj):
        return obj.participant.subject if obj.participant else "—"

    @admin.display(description="Prefilled", boolean=True)
    def was_prefilled(self, obj):
        return bool(obj.prefilled)

    @admin.display(description="Changed", boolean=True)
    def was_changed(self, obj):
        return bool(obj.changed)

    @admin.display(description="Answers")
    def answers(self, obj):
        changed = set(obj.changed or [])
        prefilled = obj.prefilled or {}
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            (
                (
                    variable,
                    answer_text(value),
                    _answer_origin(variable, changed=changed, prefilled=prefilled),
                )
                for variable, value in (obj.values or {}).items()
            ),
        )
        return format_html(
            '<table class="answers"><thead><tr><th scope="col">Field</th><th scope="col">Answer'
            '</th><th scope="col">From the IdP</th></tr></thead><tbody>{}</tbody></table>',
            rows,
        )


def answer_text(value) -> str:
    """An answer as people read it: a ticked box is "yes", an empty one "no"."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "—"
    return str(value)


def _answer_origin(variable: str, *, changed: set[str], prefilled: dict) -> str:
    if variable in changed:
        if variable in prefilled:
            return f"Changed (was: {answer_text(prefilled[variable])})"
        return "Added (the IdP had no value)"
    return "Prefilled" if variable in prefilled else ""
