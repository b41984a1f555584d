"""The integrations' admin pages, one module per subdomain; registered here, in one list."""

from django.contrib import admin

from integrations.mapping.admin import MappingRuleAdmin, MappingTableVersionAdmin
from integrations.models import (
    MappingRule,
    MappingTableVersion,
    OAuthIntegration,
    WebhookDelivery,
    WebhookEndpoint,
)
from integrations.oauth.admin import OAuthIntegrationAdmin
from integrations.webhooks.admin import WebhookDeliveryAdmin, WebhookEndpointAdmin
from integrations.webhooks.queue_admin import queue_admins_register

admin.site.register(OAuthIntegration, OAuthIntegrationAdmin)
admin.site.register(MappingRule, MappingRuleAdmin)
admin.site.register(MappingTableVersion, MappingTableVersionAdmin)
admin.site.register(WebhookEndpoint, WebhookEndpointAdmin)
admin.site.register(WebhookDelivery, WebhookDeliveryAdmin)
queue_admins_register(admin.site)
