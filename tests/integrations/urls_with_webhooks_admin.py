"""An admin site as it will be once the webhook and mapping branches land: a webhook endpoint
admin, and profile-mapping views under the names the OAuth change page links to."""

from django.contrib.admin import AdminSite
from django.http import HttpResponse
from django.urls import path

from accounts.admin import AccountScopedAdmin
from accounts.permissions import Capability
from integrations.admin import OAuthIntegrationAdmin
from integrations.admin_filters import IntegrationCategoryFilter
from integrations.models import OAuthIntegration, WebhookEndpoint


class WebhookCategoryFilter(IntegrationCategoryFilter):
    category = "webhooks"


class WebhookEndpointAdmin(AccountScopedAdmin):
    capability = Capability.MANAGE_WEBHOOKS
    list_filter = [WebhookCategoryFilter]


class OAuthIntegrationWithMappingAdmin(OAuthIntegrationAdmin):
    def get_urls(self):
        def stand_in(request, *args):
            return HttpResponse("mapping")

        return [
            path("<path:object_id>/mapping/upload/", stand_in, name="integrations_mapping_upload"),
            path("mapping/template/", stand_in, name="integrations_mapping_template"),
            *super().get_urls(),
        ]


site = AdminSite(name="admin")
site.register(OAuthIntegration, OAuthIntegrationWithMappingAdmin)
site.register(WebhookEndpoint, WebhookEndpointAdmin)

urlpatterns = [path("admin/", site.urls)]
