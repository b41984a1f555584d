from django.contrib import admin

from accounts.admin import AccountScopedAdmin, AccountScopedInline
from accounts.permissions import Capability

from .models import Campaign, CampaignField


class CampaignFieldInline(AccountScopedInline, admin.TabularInline):
    model = CampaignField
    capability = Capability.MANAGE_CAMPAIGNS
    account_path = "campaign__account"
    extra = 0


@admin.register(Campaign)
class CampaignAdmin(AccountScopedAdmin):
    capability = Capability.MANAGE_CAMPAIGNS
    list_display = ["title", "slug", "status", "starts_at", "ends_at"]
    list_filter = ["status"]
    search_fields = ["title", "slug"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [CampaignFieldInline]
