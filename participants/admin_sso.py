"""SSO activity: every login attempt, read-only, scoped to the accounts the user may audit.

Shows what helps support (time, campaign, outcome, failing step, error code, IdP duration,
error reference) and nothing that is a credential: no state or browser hash, nonce, PKCE
verifier, code, token or profile. Above the list, the last 24 hours in counts per integration:
logins that worked, and failures by class (participants/login/health.py), with the
configuration's error codes and what to check for each.
"""

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin import AccountScopedAdmin, ReadOnlyAdminMixin
from accounts.permissions import Capability
from participants.login.failures import CONFIGURATION, IDP, PARTICIPANT
from participants.login.health import sign_in_summary
from participants.models import AttemptOutcome, LoginAttempt


class FailureClassFilter(admin.SimpleListFilter):
    title = "failure class"
    parameter_name = "failure_class"

    def lookups(self, request, model_admin):
        return [
            (CONFIGURATION, "Configuration (the administrators must act)"),
            (IDP, "IdP unavailable"),
            (PARTICIPANT, "The participant's side"),
        ]

    def queryset(self, request, queryset):
        if self.value() in (CONFIGURATION, IDP, PARTICIPANT):
            return queryset.filter(outcome=AttemptOutcome.FAILED, failure_class=self.value())
        return queryset


class OutcomeFilter(admin.SimpleListFilter):
    """Outcome, with the pending attempts split: still under way, or abandoned (their time ran
    out without an answer from the IdP, so they will never finish)."""

    title = "outcome"
    parameter_name = "outcome__exact"  # the name of the plain field filter it replaces

    def lookups(self, request, model_admin):
        return [
            (AttemptOutcome.SUCCESS, "Success"),
            (AttemptOutcome.FAILED, "Failed"),
            ("abandoned", "Abandoned (expired)"),
            (AttemptOutcome.PENDING, "In progress"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        pending = Q(outcome=AttemptOutcome.PENDING)
        match self.value():
            case AttemptOutcome.SUCCESS | AttemptOutcome.FAILED as outcome:
                return queryset.filter(outcome=outcome)
            case "abandoned":
                return queryset.filter(pending, expires_at__lte=now)
            case AttemptOutcome.PENDING:
                return queryset.filter(pending, expires_at__gt=now)
        return queryset


class LoginAttemptAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    capability = Capability.VIEW_SSO_ACTIVITY
    account_path = "account"
    list_display = [
        "created_at",
        "campaign",
        "integration",
        "outcome_column",
        "problem_column",
        "idp_duration_ms",
        "error_reference",
    ]
    list_filter = [OutcomeFilter, FailureClassFilter, "failed_step", "is_test"]
    search_fields = ["error_reference"]
    date_hierarchy = "created_at"
    list_select_related = ["campaign", "integration"]
    fields = [
        "created_at",
        "account",
        "campaign",
        "integration",
        "outcome_column",
        "failed_step",
        "error_code",
        "failure_kind",
        "failure_class",
        "warning_code",
        "error_reference",
        "idp_duration_ms",
        "expires_at",
        "used_at",
        "finished_at",
        "language",
        "is_test",
        "test_user",
        "participant",
    ]
    readonly_fields = fields
    user_fields = {"test_user": "tested by"}

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_column(self, obj: LoginAttempt):
        text = obj.outcome_shown
        css = {"Success": "status-ok", "Failed": "status-bad"}.get(text, "brand-note")
        if obj.is_test:
            return format_html('<span class="{}">{}</span> (test login)', css, text)
        return format_html('<span class="{}">{}</span>', css, text)

    @admin.display(description="Problem")
    def problem_column(self, obj: LoginAttempt):
        """One column for what went wrong, so that the list's titles fit a laptop's width."""
        if obj.error_code:
            return format_html("{}: <code>{}</code>", obj.failed_step or "—", obj.error_code)
        if obj.warning_code:
            return format_html("warning: <code>{}</code>", obj.warning_code)
        return "—"

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET" and self.has_view_permission(request):
            summaries = sign_in_summary(self.get_queryset(request))
            extra_context = {**(extra_context or {}), "sign_in_summaries": summaries}
        return super().changelist_view(request, extra_context)
