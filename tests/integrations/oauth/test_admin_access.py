"""Who may see the OAuth 2.0 integration admin: every permission edge, every URL."""

import pytest
import responses
from django.urls import reverse

from accounts.models import Membership, Role
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


def test_administrator_of_an_account_that_never_had_sso_gets_nothing(client, db):
    account = AccountFactory(sso_oauth_enabled=False)
    user = make_member(account, Role.ADMINISTRATOR, username="admin-never-entitled")
    client.force_login(user)
    assert not _index_lists_oauth(client)
    assert client.get(reverse(CHANGELIST_URL)).status_code == 403
    assert client.get(reverse(ADD_URL)).status_code == 403
    response = client.post(reverse(ADD_URL), form_data())
    assert response.status_code == 403
    assert not OAuthIntegration.objects.filter(account=account).exists()


@pytest.mark.parametrize("switch", ["entitlement", "account"])
def test_administrator_sees_a_switched_off_integration_read_only_with_the_reason(
    client, account, admin_user_a, integration_a, switch
):
    """Platform staff's kill switch: the customer still sees what they had, and why it is off,
    but can change nothing (finding 2 of issue 14: they used to get 404)."""
    if switch == "entitlement":
        account.sso_oauth_enabled = False
        reason = "Platform staff have switched SSO using OAuth 2.0 off for this account."
    else:
        account.is_active = False
        reason = "The account is inactive: platform staff have switched it off."
    account.save()
    client.force_login(admin_user_a)
    assert _index_lists_oauth(client)
    changelist = client.get(reverse(CHANGELIST_URL))
    assert changelist.status_code == 200
    assert "A&#x27;s IdP" in changelist.text
    page = client.get(change_url(integration_a))
    assert page.status_code == 200
    html = page.text
    assert reason in html
    assert "Participants cannot log in" in html
    # Read-only: no inputs to submit, and the secret is never rendered, not even as text.
    assert 'name="client_id"' not in html and 'name="client_secret"' not in html
    assert "Stored (never shown)." in html
    assert integration_a.get_client_secret() not in html
    assert integration_a.callback_key in html
    # …and nothing can be changed, added, deleted or tested.
    client.post(change_url(integration_a), form_data(display_name="Changed anyway"))
    integration_a.refresh_from_db()
    assert integration_a.display_name == "A's IdP"
    assert client.get(reverse(ADD_URL)).status_code == 403
    delete = reverse("admin:integrations_oauthintegration_delete", args=[integration_a.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert OAuthIntegration.objects.filter(pk=integration_a.pk).exists()
    assert client.post(connection_test_url(integration_a)).status_code in (403, 404)
    test_login = reverse("participants:test_login_start", args=[integration_a.pk])
    assert client.get(test_login).status_code == 404


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


# ---------------------------------------------------------------------------- the account field
def test_staff_choose_the_account(client, staff_user, other_account):
    client.force_login(staff_user)
    page = client.get(reverse(ADD_URL))
    assert 'name="account"' in page.text
    response = client.post(reverse(ADD_URL), form_data(account=other_account.pk))
    assert response.status_code == 302
    assert OAuthIntegration.objects.get().account == other_account


def test_a_multi_account_administrator_picks_among_entitled_accounts_only(client, account):
    user = make_member(account, Role.ADMINISTRATOR, username="two-hats")
    second = AccountFactory(name="Second entitled")
    unentitled = AccountFactory(name="Not entitled", sso_oauth_enabled=False)
    editor_only = AccountFactory(name="Editor only")
    Membership.objects.create(user=user, account=second, role=Role.ADMINISTRATOR)
    Membership.objects.create(user=user, account=unentitled, role=Role.ADMINISTRATOR)
    Membership.objects.create(user=user, account=editor_only, role=Role.EDITOR)
    client.force_login(user)
    form = client.get(reverse(ADD_URL)).context["adminform"].form
    assert set(form.fields["account"].queryset) == {account, second}
    response = client.post(reverse(ADD_URL), form_data(account=unentitled.pk))
    assert "account" in response.context["adminform"].form.errors
    assert not OAuthIntegration.objects.exists()


def test_the_secret_cannot_be_used_as_a_to_field(client, admin_user_a, integration_a):
    client.force_login(admin_user_a)
    response = client.get(reverse(CHANGELIST_URL) + "?_to_field=client_secret")
    assert response.status_code == 400


@pytest.mark.urls("tests.integrations.oauth.urls_with_webhooks_admin")
def test_the_category_filter_links_sso_and_webhooks_both_ways(client, admin_user_a, integration_a):
    client.force_login(admin_user_a)
    sso = reverse(CHANGELIST_URL)
    webhooks = reverse("admin:integrations_webhookendpoint_changelist")
    assert f'href="{webhooks}"' in client.get(sso).text
    assert client.get(sso + "?category=webhooks")["Location"] == webhooks
    assert f'href="{sso}"' in client.get(webhooks).text


@pytest.mark.urls("tests.integrations.oauth.urls_with_webhooks_admin")
def test_the_category_filter_hides_sso_from_administrators_without_the_entitlement(
    client, unentitled_admin
):
    user, own_integration = unentitled_admin
    # An account that never had an integration: nothing about SSO to show.
    own_integration.delete()
    client.force_login(user)
    webhooks = reverse("admin:integrations_webhookendpoint_changelist")
    page = client.get(webhooks)
    assert page.status_code == 200
    assert reverse(CHANGELIST_URL) not in page.text
    assert client.get(reverse(CHANGELIST_URL) + "?category=webhooks").status_code == 403
    assert client.get(reverse(CHANGELIST_URL)).status_code == 403


# ---------------------------------------------------------------------------- mapping links
def test_the_change_page_has_a_profile_mapping_section(client, admin_user_a, integration_a):
    client.force_login(admin_user_a)
    html = client.get(change_url(integration_a)).text
    assert 'id="oauth-profile-mapping"' in html
    assert "staff upload it for you" in html


def test_the_change_page_links_the_mapping_pages(client, admin_user_a, staff_user, integration_a):
    overview = reverse("admin:integrations_mapping_overview", args=[integration_a.pk])
    template = reverse("admin:integrations_mapping_template", args=[integration_a.pk, "csv"])
    preview = reverse("admin:integrations_mapping_preview", args=[integration_a.pk])
    upload = reverse("admin:integrations_mapping_upload", args=[integration_a.pk])
    client.force_login(admin_user_a)
    html = client.get(change_url(integration_a)).text
    for url in (overview, template, preview):
        assert f'href="{url}"' in html
        assert client.get(url).status_code == 200  # pages, not POST-only endpoints
    assert f'href="{upload}"' not in html
    assert "Mapping rules and history" in html
    client.force_login(staff_user)
    html = client.get(change_url(integration_a)).text
    assert f'href="{overview}"' in html and "Mapping rules, upload and history" in html
