"""SSO activity: every login attempt, read-only, scoped to the accounts the user may audit.

Shows what helps support (time, campaign, outcome, failing step, error code, IdP duration,
error reference) and nothing that is a credential: no state or browser hash, nonce, PKCE
verifier, code, token or profile.
"""

from django.contrib import admin

from accounts.admin import AccountScopedAdmin, ReadOnlyAdminMixin
from accounts.permissions import Capability

from .models import LoginAttempt


@admin.register(LoginAttempt)
class LoginAttemptAdmin(ReadOnlyAdminMixin, AccountScopedAdmin):
    capability = Capability.VIEW_SSO_ACTIVITY
    account_path = "account"
    list_display = [
        "created_at",
        "campaign",
        "integration",
        "outcome",
        "failed_step",
        "error_code",
        "idp_duration_ms",
        "error_reference",
        "is_test",
    ]
    list_filter = ["outcome", "failed_step", "is_test"]
    search_fields = ["error_reference"]
    date_hierarchy = "created_at"
    list_select_related = ["campaign", "integration"]
    fields = [
        "created_at",
        "account",
        "campaign",
        "integration",
        "outcome",
        "failed_step",
        "error_code",
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
