"""Participants' data in the admin: find one participant (by IdP subject or e-mail), export or
erase their data, and the erasure records. For an account's Administrators and platform staff
(`Capability.MANAGE_PARTICIPANT_DATA`), scoped to their accounts like every account-owned admin.
"""

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.admin import AccountScopedAdmin, ReadOnlyAdminMixin
from accounts.permissions import Capability
from participants.data_export import participant_data_export
from participants.erasure import participant_erase, participant_erasure_plan, participants_find
from participants.models import Participant


# Nobody adds or edits a participant by hand, and deleting one goes through the erasure page,
# which takes their data with them and leaves the record.
class ParticipantAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    capability = Capability.MANAGE_PARTICIPANT_DATA
    list_display = [
        "subject",
        "issuer_key",
        "integration",
        "participation_count",
        "last_login_at",
        "data_actions",
    ]
    list_select_related = ["integration"]
    search_fields = ["subject"]  # get_search_results: the exact subject, or an e-mail
    search_help_text = (
        "An IdP subject (exactly as the IdP sends it), or an e-mail address one of their "
        "participations holds."
    )
    fields = [
        "account",
        "subject",
        "issuer_key",
        "integration",
        "created_at",
        "last_login_at",
        "participation_count",
        "data_actions",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(participation_count=Count("participations"))

    def get_search_results(self, request, queryset, search_term):
        return participants_find(queryset, search_term), False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/export/",
                view(require_GET(never_cache(self.export_view))),
                name="participants_participant_export",
            ),
            path(
                "<path:object_id>/erase/",
                view(self.erase_view),
                name="participants_participant_erase",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="participations", ordering="participation_count")
    def participation_count(self, obj):
        return obj.participation_count

    @admin.display(description="their data")
    def data_actions(self, obj):
        return format_html(
            '<a href="{}">Export JSON</a> · <a href="{}">Erase…</a>',
            reverse("admin:participants_participant_export", args=[obj.pk]),
            reverse("admin:participants_participant_erase", args=[obj.pk]),
        )

    def _participant(self, request, object_id) -> Participant:
        obj = self.get_object(request, unquote(object_id))  # scoped queryset
        if obj is None:
            raise Http404("No such participant.")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj

    def export_view(self, request, object_id):
        participant = self._participant(request, object_id)
        data = participant_data_export(participant=participant, exported_by=request.user)
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="participant-{participant.pk}.json"'
        )
        return response

    def erase_view(self, request, object_id):
        participant = self._participant(request, object_id)
        if request.method == "POST":
            erasure = participant_erase(participant=participant, erased_by=request.user)
            messages.success(
                request,
                "The participant's data was erased: "
                + ", ".join(
                    [
                        counted(erasure.participations, "participation", "participations"),
                        counted(erasure.login_attempts, "login attempt", "login attempts"),
                        counted(erasure.webhook_deliveries, "webhook event", "webhook events"),
                    ]
                )
                + ". participant.erased was sent to "
                + counted(erasure.erased_events, "endpoint", "endpoints")
                + ". The erasure record keeps no personal data.",
            )
            return HttpResponseRedirect(reverse("admin:participants_participanterasure_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": participant,
            "title": "Erase this participant's data?",
            "plan": participant_erasure_plan(participant=participant),
        }
        return TemplateResponse(request, "admin/participants/participant/erase.html", context)


class ParticipantErasureAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    capability = Capability.MANAGE_PARTICIPANT_DATA
    list_display = [
        "erased_at",
        "erased_by",
        "participations",
        "login_attempts",
        "webhook_deliveries",
        "erased_events",
    ]
    date_hierarchy = "erased_at"
    fields = [
        "account",
        "erased_at",
        "erased_by",
        "participations",
        "login_attempts",
        "webhook_deliveries",
        "remembered_logins",
        "erased_events",
    ]
    readonly_fields = fields
    user_fields = {"erased_by": "erased by"}


def counted(count: int, singular: str, plural: str) -> str:
    """ "1 participation", "3 participations"."""
    return ngettext("%(count)d " + singular, "%(count)d " + plural, count) % {"count": count}
