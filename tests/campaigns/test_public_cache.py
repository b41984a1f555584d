"""The public pages keep each campaign in the process between changes (campaigns/lookup.py,
core/process_cache.py).

What a participant must never notice: an editor's change, a campaign taken back to draft, a
field added or an integration switched off shows on the very next request, in this process and
(through the shared generation token) in every other one.
"""

import dataclasses
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import lookup
from campaigns.models import Campaign, CampaignStatus, FieldType
from core import process_cache
from core.clock import SYSTEM_CLOCK
from tests.factories import CampaignFieldFactory, OAuthIntegrationFactory, make_form_campaign


class MovableClock:
    """The real time, plus whatever the test moved it by."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def now(self):
        return SYSTEM_CLOCK.now() + timedelta(seconds=self.ahead)

    def monotonic(self) -> float:
        return SYSTEM_CLOCK.monotonic() + self.ahead

    def move(self, seconds: float) -> None:
        self.ahead += seconds


@pytest.fixture
def clock(monkeypatch):
    """The campaign cache's clock, which the test moves (the process's own is left alone)."""
    movable = MovableClock()
    monkeypatch.setattr(lookup.public_campaigns, "clock", movable)
    return movable


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
def a_second_later(clock):
    """Move the cache's clock past the interval at which it reads the shared token again."""
    return lambda: clock.move(process_cache.TOKEN_SECONDS)


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
    redis_cache, client, campaign, clock, a_second_later
):
    assert "Summer contest" in landing(client, campaign).text
    Campaign.objects.filter(pk=campaign.pk).update(title="Autumn contest")  # no signal here
    a_second_later()
    assert "Summer contest" in landing(client, campaign).text
    clock.move(lookup.public_campaigns.max_age)
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


def test_what_one_request_reads_no_request_can_change(campaign):
    """The kept campaign is shared by every thread of the process: it is frozen, fields and
    integration included, so a view cannot change what the next request reads."""
    kept = lookup.public_campaign(campaign.slug)
    with pytest.raises(dataclasses.FrozenInstanceError):
        kept.title = "Changed by a request"
    with pytest.raises(dataclasses.FrozenInstanceError):
        kept.fields[0].required = not kept.fields[0].required
    assert isinstance(kept.fields, tuple)
    assert lookup.public_campaign(campaign.slug).title == "Summer contest"


def test_the_kept_integration_never_shows_its_secret(account, campaign):
    integration = OAuthIntegrationFactory(account=account, client_secret="very-secret-value")
    campaign.oauth_integration = integration
    campaign.save()
    kept = lookup.public_campaign(campaign.slug)
    assert kept.login_integration.get_client_secret() == "very-secret-value"
    assert "very-secret-value" not in repr(kept)


def test_a_kept_campaign_ends_when_the_clock_says_so(client, account, clock):
    ends_at = timezone.now() + timedelta(hours=1)
    campaign = make_form_campaign(account=account, slug="ends-soon", ends_at=ends_at)
    assert landing(client, campaign).status_code == 200
    clock.move(2 * 3600)
    assert landing(client, campaign).status_code == 410
    assert form(client, campaign).status_code == 410


def test_a_campaign_starts_when_the_clock_says_so(client, account, clock):
    starts_at = timezone.now() + timedelta(hours=1)
    campaign = make_form_campaign(account=account, slug="starts-soon", starts_at=starts_at)
    assert "opens on" in landing(client, campaign).text
    clock.move(2 * 3600)
    page = landing(client, campaign)
    assert page.status_code == 200
    assert "opens on" not in page.text


def test_a_process_cache_reads_its_ages_from_the_clock_it_is_given(campaign):
    clock = MovableClock()
    kept = process_cache.ProcessCache("test-ages", max_entries=10, max_age=30, clock=clock)
    loads = []

    def load():
        loads.append(1)
        return len(loads)

    assert kept.get("key", load) == 1
    assert kept.get("key", load) == 1  # kept
    clock.move(31)  # past max_age (and past the token's second, whatever the cache)
    assert kept.get("key", load) == 2


def test_a_process_cache_forgets_what_it_keeps_on_demand(campaign):
    kept = process_cache.ProcessCache("test-forget", max_entries=10, max_age=30)
    loads = []

    def load():
        loads.append(1)
        return len(loads)

    assert kept.get("key", load) == 1
    assert kept.get("key", load) == 1  # kept
    kept.forget()
    assert "key" not in kept
    assert kept.get("key", load) == 2  # read again


# ---------------------------------------------------------------------------- by id (callback)
def test_the_callback_reads_its_integration_once_then_keeps_it(account):
    integration = OAuthIntegrationFactory(account=account)
    with CaptureQueriesContext(connection) as cold:
        first = lookup.published_integration(integration.pk)
    with CaptureQueriesContext(connection) as warm:
        again = lookup.published_integration(integration.pk)
    assert len(cold) == 1  # the integration with its account
    assert len(warm) == 0
    assert again is first
    assert first.unavailable_reason == ""
    assert lookup.published_integration(integration.pk + 1000) is None


def test_staff_switching_sso_off_reaches_the_kept_integration_at_once(account):
    integration = OAuthIntegrationFactory(account=account)
    assert lookup.published_integration(integration.pk).unavailable_reason == ""
    account.sso_oauth_enabled = False
    account.save()
    assert "switched SSO" in lookup.published_integration(integration.pk).unavailable_reason


def test_a_disabled_integration_still_allows_its_test_login(account):
    integration = OAuthIntegrationFactory(account=account, enabled=False)
    kept = lookup.published_integration(integration.pk)
    assert "disabled" in kept.unavailable_reason
    assert kept.unavailable_for_test_login == ""


def test_a_campaign_by_id_is_the_one_by_slug_and_follows_its_changes(campaign):
    assert lookup.public_campaign_by_id(campaign.pk).slug == "summer"
    campaign.status = CampaignStatus.DRAFT
    campaign.save()
    assert lookup.public_campaign_by_id(campaign.pk) is None
