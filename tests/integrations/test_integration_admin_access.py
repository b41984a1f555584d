"""Who may see the OAuth 2.0 integration admin: every permission edge, every URL."""

import pytest
import responses
from django.urls import reverse

from accounts.models import Role
from integrations.models import OAuthIntegration
from tests.factories import AccountFactory, OAuthIntegrationFactory, make_member

from .oauth_admin_helpers import (
    ADD_URL,
    CHANGELIST_URL,
    change_url,
    connection_test_url,
    form_data,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration_a(account):
    return OAuthIntegrationFactory(account=account, display_name="A's IdP")


@pytest.fixture
def integration_b(other_account):
    return OAuthIntegrationFactory(account=other_account, display_name="B's IdP")


@pytest.fixture
def unentitled_admin(integration_a):
    account = AccountFactory(sso_oauth_enabled=False)
    user = make_member(account, Role.ADMINISTRATOR, username="admin-unentitled")
    return user, OAuthIntegrationFactory(account=account, display_name="Unentitled IdP")


def _object_urls(integration) -> dict[str, str]:
    pk = integration.pk
    return {
        "change": change_url(integration),
        "history": reverse("admin:integrations_oauthintegration_history", args=[pk]),
        "delete": reverse("admin:integrations_oauthintegration_delete", args=[pk]),
    }


def _index_lists_oauth(client) -> bool:
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return reverse(CHANGELIST_URL) in response.text


# ---------------------------------------------------------------------------- who sees it
def test_staff_see_every_accounts_integration(client, staff_user, integration_a, integration_b):
    client.force_login(staff_user)
    assert _index_lists_oauth(client)
    changelist = client.get(reverse(CHANGELIST_URL))
    assert "A&#x27;s IdP" in changelist.text and "B&#x27;s IdP" in changelist.text
    assert client.get(change_url(integration_b)).status_code == 200
    assert client.get(reverse(ADD_URL)).status_code == 200


def test_administrator_of_an_entitled_account_sees_only_their_own(
    client, admin_user_a, integration_a, integration_b
):
    client.force_login(admin_user_a)
    assert _index_lists_oauth(client)
    changelist = client.get(reverse(CHANGELIST_URL))
    assert changelist.status_code == 200
    assert "A&#x27;s IdP" in changelist.text
    assert "B&#x27;s IdP" not in changelist.text
    for url in _object_urls(integration_a).values():
        assert client.get(url).status_code == 200
    assert client.get(reverse(ADD_URL)).status_code == 200


def test_administrator_without_the_entitlement_gets_nothing(client, unentitled_admin):
    user, own_integration = unentitled_admin
    client.force_login(user)
    assert not _index_lists_oauth(client)
    assert client.get(reverse(CHANGELIST_URL)).status_code == 403
    assert client.get(reverse(ADD_URL)).status_code == 403
    for url in _object_urls(own_integration).values():
        assert client.get(url).status_code in (403, 404), url
    assert client.post(connection_test_url(own_integration)).status_code in (403, 404)
    response = client.post(reverse(ADD_URL), form_data())
    assert response.status_code == 403
    assert OAuthIntegration.objects.count() == 2


def test_editor_gets_nothing(client, editor_a, integration_a):
    client.force_login(editor_a)
    assert not _index_lists_oauth(client)
    assert client.get(reverse(CHANGELIST_URL)).status_code == 403
    assert client.get(reverse(ADD_URL)).status_code == 403
    for url in _object_urls(integration_a).values():
        assert client.get(url).status_code in (403, 404), url
    assert client.post(connection_test_url(integration_a)).status_code in (403, 404)
    client.post(change_url(integration_a), form_data(display_name="Editor was here"))
    integration_a.refresh_from_db()
    assert integration_a.display_name == "A's IdP"


@pytest.mark.parametrize("view", ["change", "history", "delete"])
def test_another_accounts_administrator_guessing_urls_gets_404(
    client, admin_user_b, integration_a, view
):
    client.force_login(admin_user_b)
    response = client.get(_object_urls(integration_a)[view])
    assert response.status_code == 404
    assert "A&#x27;s IdP" not in response.text


def test_another_accounts_administrator_cannot_post_changes_or_delete(
    client, admin_user_b, integration_a
):
    client.force_login(admin_user_b)
    urls = _object_urls(integration_a)
    assert client.post(urls["change"], form_data(display_name="Hijacked")).status_code == 404
    assert client.post(urls["delete"], {"post": "yes"}).status_code == 404
    integration_a.refresh_from_db()
    assert integration_a.display_name == "A's IdP"


@responses.activate
def test_another_accounts_administrator_cannot_test_its_connection(
    client, admin_user_b, integration_a
):
    client.force_login(admin_user_b)
    assert client.post(connection_test_url(integration_a)).status_code == 404
    assert len(responses.calls) == 0
    integration_a.refresh_from_db()
    assert integration_a.last_test_at is None


@responses.activate
@pytest.mark.parametrize("action", ["test_connection", "delete_selected"])
def test_actions_ignore_another_accounts_ids(
    client, admin_user_b, integration_a, other_account, action
):
    own = OAuthIntegrationFactory(account=other_account)
    client.force_login(admin_user_b)
    client.post(
        reverse(CHANGELIST_URL),
        {"action": action, "_selected_action": [integration_a.pk], "post": "yes"},
    )
    integration_a.refresh_from_db()
    assert integration_a.last_test_at is None
    assert len(responses.calls) == 0
    assert OAuthIntegration.objects.filter(pk__in=[integration_a.pk, own.pk]).count() == 2


def test_an_administrator_cannot_create_one_for_another_account(
    client, admin_user_a, account, other_account
):
    client.force_login(admin_user_a)
    response = client.post(reverse(ADD_URL), form_data(account=other_account.pk))
    assert response.status_code == 302
    # The account is not a form field for a single-account user: it is always their own.
    assert OAuthIntegration.objects.get().account == account


def test_anonymous_is_sent_to_the_login_page(client, integration_a):
    for url in [reverse(CHANGELIST_URL), reverse(ADD_URL), *_object_urls(integration_a).values()]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    response = client.post(connection_test_url(integration_a))
    assert response.status_code == 302
    integration_a.refresh_from_db()
    assert integration_a.last_test_at is None


def test_test_connection_is_post_only(client, admin_user_a, integration_a):
    client.force_login(admin_user_a)
    assert client.get(connection_test_url(integration_a)).status_code == 405


def test_test_connection_needs_a_csrf_token(admin_user_a, integration_a):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user_a)
    assert client.post(connection_test_url(integration_a)).status_code == 403
    integration_a.refresh_from_db()
    assert integration_a.last_test_at is None


# ---------------------------------------------------------------------------- category filter
def test_changelist_offers_the_sso_and_webhooks_categories(client, admin_user_a, integration_a):
    client.force_login(admin_user_a)
    response = client.get(reverse(CHANGELIST_URL))
    assert "By category" in response.text
    assert ">SSO<" in response.text
    response = client.get(reverse(CHANGELIST_URL) + "?category=sso")
    assert response.status_code == 200
    assert "A&#x27;s IdP" in response.text


def test_webhooks_category_leads_to_the_webhook_endpoints_when_installed(
    client, admin_user_a, integration_a
):
    from django.urls import NoReverseMatch

    client.force_login(admin_user_a)
    response = client.get(reverse(CHANGELIST_URL) + "?category=webhooks")
    try:
        webhooks = reverse("admin:integrations_webhookendpoint_changelist")
    except NoReverseMatch:
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert response["Location"] == webhooks
