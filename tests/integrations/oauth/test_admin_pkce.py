"""OF-12 and IT-16: the administrator is told when a login leans on less than PKCE with S256."""

import pytest
import responses
from django.urls import reverse

from .oauth_admin_helpers import ADD_URL, DISCOVERY_URL, METADATA, form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, admin_user_a):
    client.force_login(admin_user_a)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_saving_with_pkce_off_warns_the_administrator(logged_in):
    """OF-12: state and nonce still protect the login, but the admin is told PKCE is off."""
    response = logged_in.post(reverse(ADD_URL), form_data(), follow=True)
    assert any("PKCE is off" in m for m in _messages(response)), _messages(response)


def test_saving_with_pkce_on_does_not_warn(logged_in):
    response = logged_in.post(reverse(ADD_URL), form_data(use_pkce="on"), follow=True)
    assert not any("PKCE" in m for m in _messages(response)), _messages(response)


@responses.activate
@pytest.mark.parametrize("methods", [["plain"], []])
def test_discovery_without_s256_warns_when_pkce_is_on(logged_in, methods):
    """IT-16 / RFC 9700 §4.7.1: PKCE support is not confirmed, so it is not relied upon."""
    responses.get(DISCOVERY_URL, json={**METADATA, "code_challenge_methods_supported": methods})
    response = logged_in.post(
        reverse(ADD_URL),
        form_data(
            discovery_url=DISCOVERY_URL,
            authorization_endpoint="",
            token_endpoint="",
            use_pkce="on",
        ),
        follow=True,
    )
    assert any("PKCE with S256" in m for m in _messages(response)), _messages(response)


def test_the_authorization_request_has_no_pkce_method_to_configure():
    """OF-04: there is no setting for the PKCE method; `plain` cannot be chosen."""
    from integrations.models import OAuthIntegration

    names = {field.name for field in OAuthIntegration._meta.get_fields()}
    assert not any("challenge_method" in name or "pkce_method" in name for name in names)
