"""An account's Administrators set what participants are told about their data (its privacy
policy) and which sites may embed its campaigns on their own account, and nothing else of it;
platform staff set everything."""

import pytest
from django.urls import reverse

from accounts.models import Account
from tests.accounts.test_admin_scoping import history_authors
from tests.factories import make_staff

pytestmark = pytest.mark.django_db

POLICY = "https://customer.example.com/privacy"


def change_url(account):
    return reverse("admin:accounts_account_change", args=[account.pk])


def test_an_administrator_sets_their_accounts_privacy_policy_and_embedding_and_nothing_else(
    client, admin_user_a, account
):
    client.force_login(admin_user_a)
    page = client.get(change_url(account))
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert set(form.fields) == {
        "privacy_policy_url",
        "participation_retention_days",
        "embed_allowed_origins",
    }

    response = client.post(
        change_url(account),
        {
            "privacy_policy_url": POLICY,
            # Posted by hand: not in the administrator's form, so never saved.
            "name": "Renamed",
            "slug": "renamed",
            "is_active": "",
            "sso_oauth_enabled": "",
        },
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.privacy_policy_url == POLICY
    assert (account.name, account.slug) == ("Account A", "account-a")
    assert account.is_active and account.sso_oauth_enabled


def test_an_administrator_cannot_save_a_plain_http_privacy_policy(client, admin_user_a, account):
    client.force_login(admin_user_a)
    response = client.post(change_url(account), {"privacy_policy_url": "http://x.example.com/"})
    assert response.status_code == 200
    assert "privacy_policy_url" in response.context["adminform"].form.errors
    account.refresh_from_db()
    assert account.privacy_policy_url == ""


def test_an_administrator_sees_only_their_own_account(client, admin_user_a, account, other_account):
    client.force_login(admin_user_a)
    changelist = client.get(reverse("admin:accounts_account_changelist"))
    assert changelist.status_code == 200
    assert "Account A" in changelist.text and "Account B" not in changelist.text
    # No memberships, entitlements or other accounts' settings.
    assert "sso_oauth_enabled" not in changelist.text


@pytest.mark.parametrize("view", ["change", "history", "delete"])
def test_another_accounts_administrator_cannot_reach_the_account(
    client, admin_user_b, account, view
):
    client.force_login(admin_user_b)
    response = client.get(reverse(f"admin:accounts_account_{view}", args=[account.pk]))
    assert response.status_code in (302, 403, 404)
    assert "Account A" not in response.text


def test_another_accounts_administrator_cannot_change_its_privacy_policy(
    client, admin_user_b, account
):
    client.force_login(admin_user_b)
    client.post(change_url(account), {"privacy_policy_url": "https://evil.example.com/"})
    account.refresh_from_db()
    assert account.privacy_policy_url == ""


def test_administrators_neither_add_nor_delete_accounts(client, admin_user_a, account):
    client.force_login(admin_user_a)
    assert client.get(reverse("admin:accounts_account_add")).status_code == 403
    client.post(reverse("admin:accounts_account_delete", args=[account.pk]), {"post": "yes"})
    assert Account.objects.filter(pk=account.pk).exists()


def test_an_editor_cannot_reach_the_account(client, editor_a, account):
    client.force_login(editor_a)
    assert client.get(change_url(account)).status_code in (302, 403)
    client.post(change_url(account), {"privacy_policy_url": POLICY})
    account.refresh_from_db()
    assert account.privacy_policy_url == ""


def test_staff_edit_every_field_of_any_account(client, staff_user, account):
    client.force_login(staff_user)
    form = client.get(change_url(account)).context["adminform"].form
    assert {"name", "slug", "is_active", "sso_oauth_enabled", "privacy_policy_url"} <= set(
        form.fields
    )


def test_the_accounts_history_names_platform_staff_as_such(client, admin_user_a, account):
    staff = make_staff(username="ops-jane")
    client.force_login(staff)
    data = {
        "name": account.name,
        "slug": account.slug,
        "is_active": "on",
        "sso_oauth_enabled": "on",
        "privacy_policy_url": POLICY,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    assert client.post(change_url(account), data).status_code == 302

    client.force_login(admin_user_a)
    page = client.get(reverse("admin:accounts_account_history", args=[account.pk])).text
    assert history_authors(page) == ["Platform staff"]
    assert "ops-jane" not in page
