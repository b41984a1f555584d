"""The app's models, one module per subdomain (each with its package): Django loads them from
here, under the app label `integrations`."""

from integrations.mapping.models import MappingDraft, MappingRule, MappingTableVersion
from integrations.oauth.models import (
    VERIFIED_SETTINGS,
    ClientAuthMethod,
    IdentifierSource,
    IntegrationConfigurationError,
    OAuthIntegration,
    SignInAlert,
    callback_key_new,
)
from integrations.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookAuthType,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "VERIFIED_SETTINGS",
    "ClientAuthMethod",
    "DeliveryStatus",
    "IdentifierSource",
    "IntegrationConfigurationError",
    "MappingDraft",
    "MappingRule",
    "MappingTableVersion",
    "OAuthIntegration",
    "SignInAlert",
    "WebhookAttempt",
    "WebhookAuthType",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
    "callback_key_new",
]
