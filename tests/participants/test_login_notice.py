"""The notice next to "Log in with <IdP>": what the login shares, and the privacy policy."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from campaigns.models import Campaign, SSOMode
from integrations.mapping.store import mapping_rules_changed
from integrations.models import MappingRule
from tests.campaigns.test_admin import campaign_post, errors_of
from tests.factories import make_form_campaign
from tests.participants.conftest import form_url, log_in
from tests.participants.login.sso_flow import make_sso_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def sso(account):
    return make_sso_campaign(account)


@pytest.fixture
def campaign(sso):
    return sso[0]


def landing(client, campaign, **query):
    return client.get(reverse("participants:landing", args=[campaign.slug]), query)


def notice_items(response) -> list[str]:
    match = re.search(r'<ul class="sso-notice__data"[^>]*>(.*?)</ul>', response.text, re.S)
    assert match, "no notice on the page"
    return re.findall(r"<li>(.*?)</li>", match.group(1))


def test_the_landing_page_lists_what_the_mapping_reads_in_english(client, campaign):
    response = landing(client, campaign, lang="en")
    assert "If you log in with Example ID, this campaign receives from your account:" in (
        response.text
    )
    assert notice_items(response) == [
        "First name",
        "Last name",
        "E-mail address",
        "Account identifier",
    ]


def test_the_notice_speaks_the_participants_language(client, campaign):
    response = landing(client, campaign, lang="fr")
    notice = "Si vous vous connectez avec Example ID, cette campagne reçoit de votre compte\u00a0:"
    assert notice in response.text
    assert notice_items(response) == ["Prénom", "Nom", "Adresse e-mail", "Identifiant du compte"]


def test_values_the_form_does_not_ask_for_are_listed_too_since_the_login_reads_them(
    client, campaign
):
    integration = campaign.oauth_integration
    MappingRule.objects.create(
        integration=integration, target="optin_partners", source="partners", position=10
    )
    MappingRule.objects.create(
        integration=integration, target="loyalty_tier", source="tier", position=11
    )
    mapping_rules_changed()
    assert not campaign.fields.filter(variable__in=["optin_partners", "loyalty_tier"]).exists()

    items = notice_items(landing(client, campaign, lang="en"))
    # A sentence label becomes a name; a custom variable without a field gets a readable name.
    assert items[3:] == ["Consent to partner offers", "Loyalty tier", "Account identifier"]
    assert (
        notice_items(landing(client, campaign, lang="fr"))[3]
        == "Consentement aux offres des partenaires"
    )


def test_a_custom_variable_is_named_by_the_campaigns_own_label(client, campaign):
    integration = campaign.oauth_integration
    MappingRule.objects.create(
        integration=integration, target="loyalty_tier", source="tier", position=11
    )
    mapping_rules_changed()
    campaign.fields.create(variable="loyalty_tier", label_en="Loyalty level", label_fr="Niveau")

    assert "Loyalty level" in notice_items(landing(client, campaign, lang="en"))
    assert "Niveau" in notice_items(landing(client, campaign, lang="fr"))


def test_the_notice_links_the_accounts_privacy_policy_in_a_new_tab(client, account, campaign):
    account.privacy_policy_url = "https://customer.example.com/privacy"
    account.save()

    response = landing(client, campaign, lang="en")

    link = (
        '<a href="https://customer.example.com/privacy" target="_blank" '
        'rel="noopener noreferrer">Privacy policy'
    )
    notice = response.text.split('class="sso-notice"', 1)[1].split("</div>", 1)[0]
    assert link in notice
    # And at the foot of the page: the form collects data with or without a login.
    footer = response.text.split('class="site-footer"', 1)[1]
    assert link in footer


def test_a_campaigns_own_privacy_policy_replaces_the_accounts(client, account, campaign):
    account.privacy_policy_url = "https://customer.example.com/privacy"
    account.save()
    campaign.privacy_policy_url = "https://customer.example.com/contest-rules#data"
    campaign.save()

    response = landing(client, campaign)

    assert 'href="https://customer.example.com/contest-rules#data"' in response.text
    assert "customer.example.com/privacy" not in response.text


def test_without_a_privacy_policy_no_link_is_shown(client, campaign):
    response = landing(client, campaign)
    assert notice_items(response)
    assert "Privacy policy" not in response.text


def test_the_notice_is_on_the_form_and_the_login_required_page_but_not_once_prefilled(
    client, account, campaign
):
    assert notice_items(client.get(form_url(campaign)))

    campaign.sso_mode = SSOMode.REQUIRED
    campaign.save()
    required = client.get(form_url(campaign))
    assert "To take part, log in with your Example ID account" in required.text
    assert notice_items(required)

    participant = account.participants.create(issuer_key="https://idp.example.com", subject="s")
    log_in(client, campaign, participant)
    assert "sso-notice" not in client.get(form_url(campaign)).text


def test_a_campaign_without_login_shows_no_notice(client, account):
    manual = make_form_campaign(account=account)
    assert "sso-notice" not in landing(client, manual).text


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "url",
    [
        "http://customer.example.com/privacy",
        "javascript:alert(1)",
        "ftp://customer.example.com/privacy",
        "https://user:pass@customer.example.com/privacy",
        "https:///privacy",
    ],
)
def test_a_privacy_policy_must_be_a_plain_https_address(account, campaign, url):
    account.privacy_policy_url = url
    with pytest.raises(ValidationError) as refused:
        account.full_clean()
    assert "privacy_policy_url" in refused.value.message_dict
    campaign.privacy_policy_url = url
    with pytest.raises(ValidationError) as refused:
        campaign.full_clean()
    assert "privacy_policy_url" in refused.value.message_dict


def test_an_editor_links_a_campaigns_privacy_policy_in_the_admin(client, editor_a):
    client.force_login(editor_a)
    refused = client.post(
        reverse("admin:campaigns_campaign_add"),
        campaign_post(privacy_policy_url="http://customer.example.com/privacy"),
    )
    assert refused.status_code == 200
    assert "privacy_policy_url" in errors_of(refused)[0]

    saved = client.post(
        reverse("admin:campaigns_campaign_add"),
        # Typed without a scheme: https is the one assumed.
        campaign_post(privacy_policy_url="customer.example.com/privacy"),
    )
    assert saved.status_code == 302, errors_of(saved)
    campaign = Campaign.objects.get(slug="win-a-bike")
    assert campaign.privacy_policy_url == "https://customer.example.com/privacy"
