"""Shared data for the OAuth integration admin tests."""

from django import forms
from django.urls import reverse

SECRET = "n3w:s3cr3t+/=% é"
ADD_URL = "admin:integrations_oauthintegration_add"
CHANGELIST_URL = "admin:integrations_oauthintegration_changelist"
# An IdP's discovery document, as the form's discovery import reads it.
DISCOVERY_URL = "https://idp.example.com/.well-known/openid-configuration"
METADATA = {
    "issuer": "https://idp.example.com",
    "authorization_endpoint": "https://idp.example.com/oauth2/authorize",
    "token_endpoint": "https://idp.example.com/oauth2/token",
    "userinfo_endpoint": "https://idp.example.com/oauth2/userinfo",
    "jwks_uri": "https://idp.example.com/oauth2/keys",
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    "authorization_response_iss_parameter_supported": True,
    "code_challenge_methods_supported": ["S256"],
}


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


def screen_values(client, integration, **edits) -> dict:
    """The change page's form as a browser posts it (the stored secret is never on it: its input
    is empty), with the administrator's `edits` typed over it."""
    form = client.get(change_url(integration)).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.disabled:
            continue
        if isinstance(field.widget, forms.CheckboxInput):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else str(value)
    data.update(edits)
    return data
