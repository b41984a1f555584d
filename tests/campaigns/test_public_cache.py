"""The public pages keep each campaign in the process between changes (campaigns/lookup.py,
core/process_cache.py).

What a participant must never notice: an editor's change, a campaign taken back to draft, a
field added or an integration switched off shows on the very next request, in this process and
(through the shared generation token) in every other one.
"""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import lookup
from campaigns.models import Campaign, CampaignStatus, FieldType
from core import process_cache
from tests.factories import CampaignFieldFactory, OAuthIntegrationFactory, make_form_campaign


@pytest.fixture
def campaign(account):
    return make_form_campaign(account=account, title="Summer contest", slug="summer")


def landing(client, campaign):
    return client.get(campaign.get_absolute_url())


def form(client, campaign):
    return client.get(f"/c/{campaign.slug}/form/")


def test_the_campaign_is_read_once_then_kept(client, campaign):
    with CaptureQueriesContext(connection) as cold:
        assert landing(client, campaign).status_code == 200
    with CaptureQueriesContext(connection) as warm:
        assert landing(client, campaign).status_code == 200
    assert len(cold) == 2  # the campaign with its integration, then its fields
    assert len(warm) == 0


def test_an_edit_shows_on_the_next_request(client, campaign):
    assert "Summer contest" in landing(client, campaign).text
    campaign.title = "Winter contest"
    campaign.save()
    page = landing(client, campaign).text
    assert "Winter contest" in page
    assert "Summer contest" not in page


def test_a_campaign_taken_back_to_draft_is_gone_at_once(client, campaign):
    assert landing(client, campaign).status_code == 200
    campaign.status = CampaignStatus.DRAFT
    campaign.save()
    assert landing(client, campaign).status_code == 404
    assert form(client, campaign).status_code == 404


def test_a_deleted_campaign_is_gone_at_once(client, campaign):
    assert landing(client, campaign).status_code == 200
    Campaign.objects.filter(pk=campaign.pk).delete()
    assert landing(client, campaign).status_code == 404


def test_a_new_field_shows_on_the_form_at_once(client, campaign):
    assert 'name="f-city"' not in form(client, campaign).text
    CampaignFieldFactory(
        campaign=campaign, variable="city", field_type=FieldType.TEXT, label_en="Town", position=50
    )
    assert 'name="f-city"' in form(client, campaign).text


def test_a_deleted_field_leaves_the_form_at_once(client, campaign):
    assert 'name="f-phone"' in form(client, campaign).text
    campaign.fields.get(variable="phone").delete()
    assert 'name="f-phone"' not in form(client, campaign).text


def test_switching_the_integration_off_removes_the_login_at_once(client, account, campaign):
    integration = OAuthIntegrationFactory(account=account, display_name="Acme ID")
    campaign.oauth_integration = integration
    campaign.save()
    login_url = f"/c/{campaign.slug}/login/"
    assert login_url in landing(client, campaign).text
    integration.enabled = False
    integration.save()
    assert login_url not in landing(client, campaign).text
    assert client.get(login_url).status_code == 503


@pytest.fixture
def a_second_later(monkeypatch):
    """Move this process's clock past the interval at which it reads the shared token again."""

    def later():
        monkeypatch.setattr(
            process_cache.time, "monotonic", lambda: now() + process_cache.TOKEN_SECONDS
        )

    now = process_cache.time.monotonic
    return later


def test_a_change_made_by_another_process_is_seen_within_a_second(
    redis_cache, client, campaign, a_second_later
):
    """Another web process saved the campaign: its signal replaced the token in the shared
    cache; this process has no signal of its own, only the token to go by."""
    assert "Summer contest" in landing(client, campaign).text
    Campaign.objects.filter(pk=campaign.pk).update(title="Autumn contest")  # no signal here
    cache.set(lookup.public_campaigns.generation_key, "replaced-by-the-other-process", timeout=None)
    assert "Summer contest" in landing(client, campaign).text  # the token is not read again yet
    a_second_later()
    assert "Autumn contest" in landing(client, campaign).text


def test_with_a_shared_cache_a_change_nobody_announced_is_kept_until_its_max_age(
    redis_cache, client, campaign, monkeypatch, a_second_later
):
    assert "Summer contest" in landing(client, campaign).text
    Campaign.objects.filter(pk=campaign.pk).update(title="Autumn contest")  # no signal here
    a_second_later()
    assert "Summer contest" in landing(client, campaign).text
    now = process_cache.time.monotonic
    max_age = lookup.public_campaigns.max_age
    monkeypatch.setattr(process_cache.time, "monotonic", lambda: now() + max_age)
    assert "Autumn contest" in landing(client, campaign).text


@pytest.fixture
def local_memory_cache(settings):
    """The default cache in this process's memory (no CACHE_URL), whatever the run's settings."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def test_with_a_per_process_cache_nothing_is_kept_past_a_second(
    local_memory_cache, client, campaign, a_second_later
):
    """The local-memory cache cannot tell the other processes about a change: an edit made in
    one of them must still reach every page within a second."""
    assert "Summer contest" in landing(client, campaign).text
    Campaign.objects.filter(pk=campaign.pk).update(title="Autumn contest")  # another process
    assert "Summer contest" in landing(client, campaign).text
    a_second_later()
    assert "Autumn contest" in landing(client, campaign).text


def test_a_cleared_cache_makes_every_process_read_again(
    redis_cache, client, campaign, a_second_later
):
    assert "Summer contest" in landing(client, campaign).text
    Campaign.objects.filter(pk=campaign.pk).update(title="Autumn contest")
    cache.clear()  # a Redis restart: nobody can tell what changed meanwhile
    a_second_later()
    assert "Autumn contest" in landing(client, campaign).text


def test_the_token_is_replaced_again_when_the_change_commits(
    campaign, django_capture_on_commit_callbacks
):
    """A process that reloads between the save and the commit reads the old rows: the second
    replacement, at commit, makes it read again."""
    lookup.public_campaign(campaign.slug)
    with django_capture_on_commit_callbacks(execute=True):
        campaign.title = "Winter contest"
        campaign.save()
        before_commit = cache.get(lookup.public_campaigns.generation_key)
    assert cache.get(lookup.public_campaigns.generation_key) not in (None, before_commit)


def test_unknown_addresses_are_not_remembered(client, campaign):
    landing(client, campaign)
    kept = len(lookup.public_campaigns)
    for number in range(50):
        assert client.get(f"/c/no-such-campaign-{number}/").status_code == 404
    assert len(lookup.public_campaigns) == kept


def test_the_memory_kept_is_bounded(client, account, monkeypatch):
    monkeypatch.setattr(lookup.public_campaigns, "max_entries", 3)
    campaigns = [make_form_campaign(account=account, slug=f"contest-{n}") for n in range(5)]
    for campaign in campaigns:
        assert landing(client, campaign).status_code == 200
        assert len(lookup.public_campaigns) <= 3
    assert "contest-4" in lookup.public_campaigns


@pytest.fixture
def cache_down(settings):
    """Redis is down: nothing listens where the cache points."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


def test_pages_and_edits_keep_working_while_the_cache_is_down(
    client, campaign, cache_down, a_second_later, caplog
):
    assert "Summer contest" in landing(client, campaign).text
    campaign.title = "Winter contest"
    campaign.save()  # the change cannot be announced; the save goes through all the same
    assert "Winter contest" in landing(client, campaign).text
    Campaign.objects.filter(pk=campaign.pk).update(title="Autumn contest")
    a_second_later()
    assert "Autumn contest" in landing(client, campaign).text  # nothing kept meanwhile
    assert "cache unavailable" in caplog.text
