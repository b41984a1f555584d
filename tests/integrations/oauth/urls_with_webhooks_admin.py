"""An admin site as it will be once the webhook branch lands: a webhook endpoint admin beside
the OAuth integrations (without the profile-mapping pages)."""

from django.contrib.admin import AdminSite
from django.urls import path

from accounts.admin import AccountScopedAdmin
from accounts.permissions import Capability
from integrations.admin_filters import IntegrationCategoryFilter
from integrations.models import OAuthIntegration, WebhookEndpoint
from integrations.oauth.admin import OAuthIntegrationAdmin


class WebhookCategoryFilter(IntegrationCategoryFilter):
    category = "webhooks"


class WebhookEndpointAdmin(AccountScopedAdmin):
    capability = Capability.MANAGE_WEBHOOKS
    list_filter = [WebhookCategoryFilter]


site = AdminSite(name="admin")
site.register(OAuthIntegration, OAuthIntegrationAdmin)
site.register(WebhookEndpoint, WebhookEndpointAdmin)

urlpatterns = [path("admin/", site.urls)]
