"""The scoped admin: users see, pick and change only their own accounts' objects."""

import re

import pytest
from django.urls import reverse

from campaigns.models import Campaign
from tests.factories import CampaignFactory, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign_a(account):
    return CampaignFactory(account=account, title="A's campaign")


@pytest.fixture
def campaign_b(other_account):
    return CampaignFactory(account=other_account, title="B's campaign")


def _campaign_post(**overrides):
    data = {
        "title": "New campaign",
        "title_fr": "",
        "slug": "new-campaign",
        "description": "",
        "description_fr": "",
        "status": "draft",
        "languages": ["en"],
        "sso_mode": "optional",
        "prefill_mode": "display",
        "participation_limit": "once",
        "embedding": "account",
        "fields-TOTAL_FORMS": "0",
        "fields-INITIAL_FORMS": "0",
        "fields-MIN_NUM_FORMS": "0",
        "fields-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def test_changelist_shows_only_own_account(client, admin_user_a, campaign_a, campaign_b):
    client.force_login(admin_user_a)
    response = client.get(reverse("admin:campaigns_campaign_changelist"))
    assert response.status_code == 200
    assert "A&#x27;s campaign" in response.text
    assert "B&#x27;s campaign" not in response.text


@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_guessing_another_accounts_url_finds_nothing(client, admin_user_a, campaign_b, view):
    client.force_login(admin_user_a)
    response = client.get(reverse(f"admin:campaigns_campaign_{view}", args=[campaign_b.pk]))
    # The admin treats an object outside the queryset as missing: redirect with a message.
    assert response.status_code in (302, 404)
    assert "B&#x27;s campaign" not in response.text


def test_posting_a_change_to_another_accounts_object_changes_nothing(
    client, admin_user_a, campaign_b
):
    client.force_login(admin_user_a)
    url = reverse("admin:campaigns_campaign_change", args=[campaign_b.pk])
    client.post(url, _campaign_post(title="Hijacked", slug=campaign_b.slug))
    campaign_b.refresh_from_db()
    assert campaign_b.title == "B's campaign"


def test_deleting_another_accounts_object_deletes_nothing(client, admin_user_a, campaign_b):
    client.force_login(admin_user_a)
    client.post(reverse("admin:campaigns_campaign_delete", args=[campaign_b.pk]), {"post": "yes"})
    assert Campaign.objects.filter(pk=campaign_b.pk).exists()


def test_bulk_delete_action_ignores_other_accounts_ids(
    client, admin_user_a, campaign_a, campaign_b
):
    client.force_login(admin_user_a)
    client.post(
        reverse("admin:campaigns_campaign_changelist"),
        {"action": "delete_selected", "_selected_action": [campaign_b.pk], "post": "yes"},
    )
    assert Campaign.objects.filter(pk=campaign_b.pk).exists()


def test_create_sets_the_users_only_account(client, admin_user_a, account):
    client.force_login(admin_user_a)
    add_url = reverse("admin:campaigns_campaign_add")
    page = client.get(add_url)
    assert page.status_code == 200
    assert 'name="account"' not in page.text
    response = client.post(add_url, _campaign_post())
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Campaign.objects.get(slug="new-campaign").account == account


def test_posting_another_accounts_id_is_refused(client, account, other_account):
    from accounts.models import Membership, Role
    from tests.factories import make_member

    # A user with two accounts chooses the account; B's id is not among the choices.
    user = make_member(account, Role.ADMINISTRATOR)
    third = type(account).objects.create(name="C", slug="c")
    Membership.objects.create(user=user, account=third, role=Role.EDITOR)
    client.force_login(user)
    response = client.post(
        reverse("admin:campaigns_campaign_add"), _campaign_post(account=other_account.pk)
    )
    assert response.status_code == 200
    assert "account" in response.context["adminform"].form.errors
    assert not Campaign.objects.filter(slug="new-campaign").exists()


def test_staff_see_every_account(client, staff_user, campaign_a, campaign_b):
    client.force_login(staff_user)
    response = client.get(reverse("admin:campaigns_campaign_changelist"))
    assert "A&#x27;s campaign" in response.text and "B&#x27;s campaign" in response.text


def test_editors_cannot_open_accounts_admin(client, editor_a, account):
    # Administrators see their own account's participants' data settings only:
    # tests/accounts/test_account_admin_participant_data.py.
    client.force_login(editor_a)
    assert client.get(reverse("admin:accounts_account_changelist")).status_code == 403
    assert client.get(reverse("admin:accounts_account_change", args=[account.pk])).status_code in (
        302,
        403,
    )
    index = client.get(reverse("admin:index"))
    assert "accounts/account/" not in index.text


def test_anonymous_is_sent_to_login(client, campaign_a):
    response = client.get(reverse("admin:campaigns_campaign_changelist"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_history_names_platform_staff_as_such_to_the_account(
    client, account, admin_user_a, campaign_a
):
    """Django's history page would show a staff member's username and full name."""
    staff = make_staff(username="ops-jane", first_name="Jane", last_name="Ops")
    change = reverse("admin:campaigns_campaign_change", args=[campaign_a.pk])
    history = reverse("admin:campaigns_campaign_history", args=[campaign_a.pk])
    edits = [
        (staff, {"account": account.pk, "title": "Edited by staff"}),
        (admin_user_a, {"title": "Edited by the administrator"}),
    ]
    for user, data in edits:
        client.force_login(user)
        response = client.post(change, _campaign_post(slug=campaign_a.slug, **data))
        assert response.status_code == 302
    campaign_a.refresh_from_db()
    assert campaign_a.title == "Edited by the administrator"

    client.force_login(admin_user_a)
    page = client.get(history).text
    assert history_authors(page) == ["Platform staff", "admin-a"]
    assert "ops-jane" not in page and "Jane" not in page

    client.force_login(staff)  # platform staff may see who did it
    assert history_authors(client.get(history).text) == ["ops-jane", "admin-a"]


def history_authors(html: str) -> list[str]:
    table = re.search(r'<div id="change-history".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [name.strip() for name in re.findall(r"</th>\s*<td>(.*?)</td>", table, re.S)]
