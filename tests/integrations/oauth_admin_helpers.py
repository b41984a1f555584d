"""Shared data for the OAuth integration admin tests."""

from django.urls import reverse

SECRET = "n3w:s3cr3t+/=% é"
ADD_URL = "admin:integrations_oauthintegration_add"
CHANGELIST_URL = "admin:integrations_oauthintegration_changelist"


def form_data(**overrides) -> dict:
    """The POST body of the admin form; an override of None leaves the field out."""
    data = {
        "display_name": "Example ID",
        "enabled": "on",
        "discovery_url": "",
        "authorization_endpoint": "https://idp.example.com/authorize",
        "token_endpoint": "https://idp.example.com/token",
        "client_id": "campaign-sso",
        "client_secret": SECRET,
        "client_auth_method": "client_secret_post",
        "scope": "openid email profile",
        "profile_endpoint": "",
        "issuer": "",
        "jwks_uri": "",
        "connect_timeout": "5",
        "read_timeout": "10",
    }
    for name, value in overrides.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def change_url(integration) -> str:
    return reverse("admin:integrations_oauthintegration_change", args=[integration.pk])


def connection_test_url(integration) -> str:
    return reverse("admin:integrations_oauthintegration_test_connection", args=[integration.pk])
