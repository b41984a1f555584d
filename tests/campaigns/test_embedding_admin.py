"""Who may embed a campaign, set in the admin, and the embed code it gives to paste."""

import html

import pytest
from django.urls import reverse

from campaigns.embed_code import campaign_embed_code
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


def test_the_campaign_page_gives_the_embed_code_with_its_address_filled_in(
    client, editor_a, account, settings
):
    settings.PUBLIC_BASE_URL = "https://sso.example.test"
    account.embed_allowed_origins = ["https://shop.example.com"]
    account.save()
    campaign = CampaignFactory(account=account, slug="win-a-bike", title='Win a "bike" <now>')
    client.force_login(editor_a)
    page = client.get(change_url(campaign))
    assert page.status_code == 200

    code = campaign_embed_code(campaign, base_url=settings.PUBLIC_BASE_URL)
    assert 'src="https://sso.example.test/e/win-a-bike/"' in code
    assert 'title="Win a &quot;bike&quot; &lt;now&gt;"' in code
    assert 'event.origin !== "https://sso.example.test"' in code
    assert "event.source !== frame.contentWindow" in code
    assert 'data.type === "campaign-sso:height"' in code
    assert html.escape(code) in page.text
    assert 'data-copy-target="campaign-embed-code"' in page.text
    assert "integrations/copy_to_clipboard.js" in page.text
    assert "Allowed on: https://shop.example.com." in page.text


def test_a_campaign_nobody_may_embed_says_so_beside_its_code(client, editor_a, account):
    campaign = CampaignFactory(account=account)
    client.force_login(editor_a)
    page = client.get(change_url(campaign))
    assert "No site may show it yet" in page.text


def test_a_new_campaign_has_no_embed_code_yet(client, editor_a):
    client.force_login(editor_a)
    assert "campaign-embed-code" not in client.get(ADD_URL).text
