"""Retention: a campaign's participations go a set number of days after it ends
(`purge_participations`, daily), then the participants left with nothing."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
from participants.models import LoginAttempt, Participant, Participation, RememberedLogin
from tests.campaigns.test_admin import campaign_post, errors_of
from tests.factories import (
    CampaignFactory,
    OAuthIntegrationFactory,
    ParticipantFactory,
    ParticipationFactory,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()
LONG_AGO = NOW - timedelta(days=60)


def ended_campaign(account, *, days_ago: int, **kwargs) -> Campaign:
    return CampaignFactory(account=account, ends_at=NOW - timedelta(days=days_ago), **kwargs)


def participate(campaign, participant=None, count=1) -> list[Participation]:
    return [ParticipationFactory(campaign=campaign, participant=participant) for _ in range(count)]


def idle_participant(account, **kwargs) -> Participant:
    participant = ParticipantFactory(account=account, **kwargs)
    Participant.objects.filter(pk=participant.pk).update(
        created_at=LONG_AGO, last_login_at=LONG_AGO
    )
    return participant


def purge(*args) -> str:
    out = StringIO()
    call_command("purge_participations", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.PARTICIPATION_RETENTION_DAYS = 30


def test_participations_go_once_their_campaign_ended_longer_ago_than_it_keeps_them(account):
    expired = ended_campaign(account, days_ago=31)
    within = ended_campaign(account, days_ago=29)
    running = CampaignFactory(account=account)
    gone = participate(expired, count=2)
    kept = participate(within) + participate(running)

    output = purge()

    assert set(Participation.objects.all()) == set(kept)
    assert not Participation.objects.filter(pk__in=[p.pk for p in gone]).exists()
    assert "Participations: 2 deleted, from 1 campaigns past their retention period." in output


@pytest.mark.parametrize(
    ("account_days", "campaign_days", "purged"),
    [
        (None, None, True),  # the platform's 30 days
        (60, None, False),  # the account keeps 60 days
        (60, 20, True),  # the campaign keeps only 20 days
        (None, 90, False),  # the campaign keeps 90 days
    ],
)
def test_the_campaigns_retention_else_the_accounts_else_the_platforms(
    account, account_days, campaign_days, purged
):
    account.participation_retention_days = account_days
    account.save()
    campaign = ended_campaign(account, days_ago=45, participation_retention_days=campaign_days)
    participate(campaign)

    purge()

    assert Participation.objects.exists() is not purged


def test_setting_the_status_to_ended_starts_the_retention(account):
    campaign = CampaignFactory(account=account)
    assert campaign.ended_at is None
    campaign.status = CampaignStatus.ENDED
    campaign.save(update_fields=["status"])
    campaign.refresh_from_db()
    assert campaign.ended_at is not None
    participate(campaign)

    purge()
    assert Participation.objects.exists()  # it ended just now

    Campaign.objects.filter(pk=campaign.pk).update(ended_at=NOW - timedelta(days=31))
    purge()
    assert not Participation.objects.exists()


def test_live_again_means_not_ended(account):
    campaign = CampaignFactory(account=account, status=CampaignStatus.ENDED)
    campaign.status = CampaignStatus.LIVE
    campaign.save()
    campaign.refresh_from_db()
    assert campaign.ended_at is None


def test_a_status_ended_behind_the_models_back_ends_at_the_purge(account):
    campaign = CampaignFactory(account=account)
    participate(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.ENDED)

    purge()

    campaign.refresh_from_db()
    assert campaign.ended_at is not None and Participation.objects.exists()


def test_participations_without_a_login_go_too(account):
    participate(ended_campaign(account, days_ago=31), participant=None)
    purge()
    assert not Participation.objects.exists()


def test_participants_left_with_nothing_go_with_their_remembered_logins(account):
    integration = OAuthIntegrationFactory(account=account)
    expired = ended_campaign(account, days_ago=31)
    running = CampaignFactory(account=account)
    only_expired = idle_participant(account, integration=integration)
    also_running = idle_participant(account)
    never_took_part = idle_participant(account)
    just_logged_in = ParticipantFactory(account=account, last_login_at=NOW)
    participate(expired, only_expired)
    participate(expired, also_running)
    participate(running, also_running)
    attempt = LoginAttempt.objects.create(
        state_hash="h" * 64,
        browser_hash="b" * 64,
        account=account,
        expires_at=NOW,
        participant=only_expired,
    )
    RememberedLogin.objects.create(
        token_hash="t" * 64,
        participant=only_expired,
        integration=integration,
        profile="{}",
        expires_at=NOW + timedelta(minutes=5),
    )

    output = purge()

    assert set(Participant.objects.all()) == {also_running, just_logged_in}
    assert not Participant.objects.filter(pk=never_took_part.pk).exists()
    assert not RememberedLogin.objects.exists()
    attempt.refresh_from_db()
    assert attempt.participant is None  # the activity log keeps its own retention
    assert "Participants: 2 deleted, left without any participation." in output


def test_a_dry_run_counts_and_deletes_nothing(account):
    expired = ended_campaign(account, days_ago=31, slug="old-contest")
    running = CampaignFactory(account=account)
    alone = idle_participant(account)
    kept = idle_participant(account)
    participate(expired, alone, count=3)
    participate(expired, kept)
    participate(running, kept)
    idle_participant(account)  # never took part

    output = purge("--dry-run", "--verbosity", "2")

    assert "Dry run: nothing was deleted." in output
    assert "old-contest (account account-a)" in output and "4 participations" in output
    assert "Participations: 4 would be deleted, from 1 campaigns" in output
    assert "Participants: 2 would be deleted, left without any participation." in output
    assert Participation.objects.count() == 5 and Participant.objects.count() == 3


def test_it_deletes_in_batches(account):
    expired = ended_campaign(account, days_ago=31)
    participants = [idle_participant(account) for _ in range(5)]
    for participant in participants:
        participate(expired, participant)

    with CaptureQueriesContext(connection) as queries:
        output = purge("--batch-size", "2")

    deletes = [q["sql"] for q in queries if q["sql"].startswith("DELETE FROM")]
    assert sum('"participants_participation"' in sql for sql in deletes) == 3
    assert sum('"participants_participant"' in sql for sql in deletes) == 3

    assert not Participation.objects.exists() and not Participant.objects.exists()
    assert "Participations: 5 deleted" in output and "Participants: 5 deleted" in output


def test_the_batch_size_must_be_positive(db):
    with pytest.raises(CommandError):
        purge("--batch-size", "0")


# ---------------------------------------------------------------------------- admin
def test_an_editor_sets_a_campaigns_retention_within_bounds(client, editor_a):
    client.force_login(editor_a)
    add = reverse("admin:campaigns_campaign_add")
    for refused in ("0", "3651"):
        response = client.post(add, campaign_post(participation_retention_days=refused))
        assert "participation_retention_days" in errors_of(response)[0]

    response = client.post(add, campaign_post(participation_retention_days="365"))

    assert response.status_code == 302, errors_of(response)
    assert Campaign.objects.get(slug="win-a-bike").participation_retention_days == 365


def test_the_campaign_form_says_what_blank_means(client, editor_a, account):
    account.participation_retention_days = 400
    account.save()
    client.force_login(editor_a)
    page = client.get(reverse("admin:campaigns_campaign_add"))
    assert "Blank: your account's default (400 days)." in page.text


def test_an_administrator_sets_the_accounts_default_retention(client, admin_user_a, account):
    client.force_login(admin_user_a)
    url = reverse("admin:accounts_account_change", args=[account.pk])
    response = client.post(url, {"privacy_policy_url": "", "participation_retention_days": "90"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert account.participation_retention_days == 90


def test_another_accounts_administrator_cannot_change_its_retention(client, admin_user_b, account):
    client.force_login(admin_user_b)
    url = reverse("admin:accounts_account_change", args=[account.pk])
    client.post(url, {"privacy_policy_url": "", "participation_retention_days": "1"})
    account.refresh_from_db()
    assert account.participation_retention_days is None
