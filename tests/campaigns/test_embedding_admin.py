"""Who may embed a campaign, set in the admin."""

import html

import pytest
from django.urls import reverse

from campaigns.models import Campaign, Embedding
from tests.campaigns.test_admin import ADD_URL, campaign_post, errors_of
from tests.factories import CampaignFactory

pytestmark = pytest.mark.django_db


def change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_an_editor_lets_two_sites_embed_a_campaign(client, editor_a):
    client.force_login(editor_a)
    response = client.post(
        ADD_URL,
        campaign_post(
            embedding="own",
            embed_allowed_origins="https://Shop.example.com/\r\nhttps://www.example.org:8443",
        ),
    )
    assert response.status_code == 302, errors_of(response)
    campaign = Campaign.objects.get(slug="win-a-bike")
    assert campaign.embedding == Embedding.OWN
    assert campaign.embed_allowed_origins == [
        "https://shop.example.com",
        "https://www.example.org:8443",
    ]
    assert campaign.frame_ancestors == campaign.embed_allowed_origins


def test_wrong_sites_are_refused_line_by_line_and_the_text_is_kept(client, editor_a):
    client.force_login(editor_a)
    typed = "https://shop.example.com\nhttp://www.example.org\nhttps://*.example.net"
    response = client.post(ADD_URL, campaign_post(embedding="own", embed_allowed_origins=typed))
    assert response.status_code == 200
    errors = errors_of(response)[0]["embed_allowed_origins"]
    assert len(errors) == 2
    assert "“http://www.example.org”: use https://" in errors[0]
    assert "“https://*.example.net”: wildcards are not allowed" in errors[1]
    assert html.escape(typed) in response.text
    assert not Campaign.objects.exists()


def test_only_the_sites_listed_here_needs_a_site(client, editor_a):
    client.force_login(editor_a)
    response = client.post(ADD_URL, campaign_post(embedding="own", embed_allowed_origins=""))
    assert response.status_code == 200
    assert "List the sites that may embed the campaign" in str(
        errors_of(response)[0]["embed_allowed_origins"]
    )
    assert not Campaign.objects.exists()


def test_an_administrator_sets_the_sites_of_every_campaign_of_the_account(
    client, admin_user_a, account
):
    campaign = CampaignFactory(account=account)
    client.force_login(admin_user_a)
    response = client.post(
        change_url(account),
        {
            "privacy_policy_url": "",
            "participation_retention_days": "",
            "embed_allowed_origins": "https://shop.example.com",
        },
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.embed_allowed_origins == ["https://shop.example.com"]
    campaign.refresh_from_db()
    assert campaign.embedding == Embedding.ACCOUNT
    assert campaign.frame_ancestors == ["https://shop.example.com"]


def test_an_administrator_cannot_save_a_wildcard_for_the_account(client, admin_user_a, account):
    client.force_login(admin_user_a)
    response = client.post(change_url(account), {"embed_allowed_origins": "https://*"})
    assert response.status_code == 200
    assert "wildcards are not allowed" in str(
        response.context["adminform"].form.errors["embed_allowed_origins"]
    )
    account.refresh_from_db()
    assert account.embed_allowed_origins == []
