"""Named links (core/links.py): a lower app shows a higher app's page only when that app
provides the link; with no provider the link is simply not shown."""

import pytest
from django.core import mail
from django.urls import NoReverseMatch, reverse, set_script_prefix

from accounts.models import Role
from core.links import link_provide, link_url, link_withdraw, links_provided, path_of
from integrations.oauth.alerts import sign_in_alert_raise
from participants.links import LINKS, links_register
from tests.factories import CampaignFactory, OAuthIntegrationFactory, make_member


@pytest.fixture
def without_participants_links():
    """As if no app provided participants' pages; registered again afterwards."""
    for name in LINKS:
        link_withdraw(name)
    yield
    links_register()


@pytest.fixture
def planted_link():
    yield "planted"
    link_withdraw("planted")


def test_a_link_no_app_provides_is_empty():
    assert "nobody-provides-this" not in links_provided()
    assert link_url("nobody-provides-this", slug="x") == ""


def test_a_provided_link_is_built_from_the_arguments(planted_link):
    link_provide(planted_link, lambda *, slug: f"/somewhere/{slug}/")
    assert link_url(planted_link, slug="summer") == "/somewhere/summer/"


def test_a_provided_link_that_resolves_nowhere_is_empty(planted_link):
    link_provide(planted_link, lambda: reverse("admin:no_such_page"))
    assert link_url(planted_link) == ""


def test_participants_provide_their_pages():
    assert set(LINKS) <= links_provided()
    assert link_url("campaign_page", slug="summer") == reverse(
        "participants:landing", args=["summer"]
    )
    assert link_url("integration_test_login", integration_id=7) == reverse(
        "participants:test_login_start", args=[7]
    )


def test_without_provider_the_campaign_admin_shows_no_participants_links(
    client, account, without_participants_links
):
    campaign = CampaignFactory(account=account)
    client.force_login(make_member(account, Role.ADMINISTRATOR, username="admin-a"))
    html = client.get(reverse("admin:campaigns_campaign_changelist")).text
    assert "0 participations" in html
    assert ">Statistics</a>" not in html and ">CSV</a>" not in html
    assert campaign.get_absolute_url() == ""
    change = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).text
    assert "campaign-embed-code" not in change


def test_with_participants_the_campaign_admin_links_them(client, account):
    campaign = CampaignFactory(account=account)
    client.force_login(make_member(account, Role.ADMINISTRATOR, username="admin-a"))
    html = client.get(reverse("admin:campaigns_campaign_changelist")).text
    statistics = reverse("admin:participants_campaign_statistics", args=[campaign.pk])
    assert f'<a href="{statistics}">Statistics</a>' in html
    change = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk])).text
    assert "campaign-embed-code" in change
    assert reverse("participants:embed_landing", args=[campaign.slug]) in change


def test_without_provider_the_integration_page_has_no_test_login(
    client, account, without_participants_links
):
    integration = OAuthIntegrationFactory(account=account)
    client.force_login(make_member(account, Role.ADMINISTRATOR, username="admin-a"))
    change = reverse("admin:integrations_oauthintegration_change", args=[integration.pk])
    html = client.get(change).text
    assert "Test connection" in html
    assert "Test login" not in html
    assert "SSO activity log" not in html


def test_without_provider_the_alert_email_has_no_activity_log_line(
    account, without_participants_links, django_capture_on_commit_callbacks
):
    integration = OAuthIntegrationFactory(account=account)
    make_member(account, Role.ADMINISTRATOR, username="admin-a")
    with django_capture_on_commit_callbacks(execute=True):
        sign_in_alert_raise(
            integration_id=integration.pk, error_code="invalid_client", reference="ABC123"
        )
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert "Integration settings: https://sso.example.test/" in body
    assert "SSO activity log: " not in body


def test_with_participants_the_alert_email_links_the_activity_log(
    account, django_capture_on_commit_callbacks
):
    integration = OAuthIntegrationFactory(account=account)
    make_member(account, Role.ADMINISTRATOR, username="admin-a")
    with django_capture_on_commit_callbacks(execute=True):
        sign_in_alert_raise(
            integration_id=integration.pk, error_code="invalid_client", reference="ABC123"
        )
    activity = reverse("admin:participants_loginattempt_changelist")
    assert (
        f"SSO activity log: https://sso.example.test{activity}?integration__id__exact="
        f"{integration.pk}" in mail.outbox[0].body
    )


# ---------------------------------------------------------------------------- path_of
def test_a_remembered_path_is_the_one_reverse_gives():
    assert path_of("participants:form", "summer") == reverse("participants:form", args=["summer"])
    assert path_of("participants:form", "winter") == "/c/winter/form/"


def test_a_remembered_path_follows_the_path_the_site_is_served_under():
    assert path_of("participants:landing", "summer") == "/c/summer/"
    set_script_prefix("/sso/")
    try:
        assert path_of("participants:landing", "summer") == "/sso/c/summer/"
    finally:
        set_script_prefix("/")
    assert path_of("participants:landing", "summer") == "/c/summer/"


def test_a_remembered_path_follows_the_urlconf(settings):
    assert path_of("participants:form", "summer") == "/c/summer/form/"
    settings.ROOT_URLCONF = "tests.core.urls_mounted_elsewhere"
    assert path_of("participants:form", "summer") == "/elsewhere/c/summer/form/"


def test_a_path_that_does_not_exist_raises_as_reverse_does_every_time():
    for _ in range(2):
        with pytest.raises(NoReverseMatch):
            path_of("participants:form", "not a slug")


@pytest.mark.django_db
def test_campaign_pages_link_to_the_remembered_paths(client, account):
    integration = OAuthIntegrationFactory(account=account)
    campaign = CampaignFactory(account=account, slug="remembered", oauth_integration=integration)
    page = client.get(f"/c/{campaign.slug}/form/").content.decode()
    assert 'action="/c/remembered/form/?lang=' in page
    assert 'href="/c/remembered/login/?lang=' in page
