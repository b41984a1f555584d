"""How long participations are kept, and their purge (`manage.py purge_participations`).

A campaign keeps its participations for `Campaign.retention_days` after it ends (its own
setting, else its account's, else PARTICIPATION_RETENTION_DAYS); then they are deleted, all of
them. A participant left without any participation, and not seen for longer than a session
lasts (SESSION_COOKIE_AGE: no session can still hold their prefill), is deleted too.

Deletes run in batches of primary keys, each its own short statement (no long lock on a big
table, no query parameter limit on SQLite), the same on SQLite and PostgreSQL.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
from participants.models import Participant, Participation

DEFAULT_BATCH_SIZE = 500


@dataclass(frozen=True)
class ExpiredCampaign:
    campaign: Campaign
    ended: datetime
    days: int
    participations: int


@dataclass
class PurgeResult:
    campaigns: list[ExpiredCampaign] = field(default_factory=list)
    participations: int = 0
    participants: int = 0


def campaigns_past_retention(*, now: datetime) -> list[ExpiredCampaign]:
    """Campaigns that ended longer ago than they keep participations, and still have some."""
    candidates = (
        Campaign.objects.filter(Q(ends_at__lte=now) | Q(status=CampaignStatus.ENDED))
        .filter(Exists(Participation.objects.filter(campaign=OuterRef("pk"))))
        .select_related("account")
        .order_by("pk")
    )
    expired = []
    for campaign in candidates:
        ended = campaign.end_time(now)
        if ended is not None and ended + timedelta(days=campaign.retention_days) <= now:
            count = Participation.objects.filter(campaign=campaign).count()
            expired.append(ExpiredCampaign(campaign, ended, campaign.retention_days, count))
    return expired


def _participants_idle(now: datetime) -> QuerySet[Participant]:
    seen_before = now - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    return Participant.objects.annotate(last_seen=Coalesce("last_login_at", "created_at")).filter(
        last_seen__lt=seen_before
    )


def _pk_batches(queryset: QuerySet, batch_size: int) -> Iterator[list[int]]:
    """The queryset's primary keys, batch by batch, in key order (keyset pagination)."""
    last = 0
    while batch := list(
        queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
    ):
        yield batch
        last = batch[-1]


def participations_purge(
    *, now: datetime | None = None, dry_run: bool = False, batch_size: int = DEFAULT_BATCH_SIZE
) -> PurgeResult:
    """Delete the participations past their campaign's retention, then the participants left
    with nothing. With `dry_run`, count what would go and delete nothing."""
    now = now or timezone.now()
    if not dry_run:
        # A status set to "ended" around Campaign.save (QuerySet.update, SQL): it ends now.
        Campaign.objects.filter(status=CampaignStatus.ENDED, ended_at__isnull=True).update(
            ended_at=now
        )
    result = PurgeResult(campaigns=campaigns_past_retention(now=now))
    if dry_run:
        result.participations = sum(expired.participations for expired in result.campaigns)
        result.participants = _participants_left_with_nothing_count(
            now=now, expired={expired.campaign.pk for expired in result.campaigns}, batch=batch_size
        )
        return result

    for expired in result.campaigns:
        participations = Participation.objects.filter(campaign=expired.campaign)
        for batch in _pk_batches(participations, batch_size):
            result.participations += Participation.objects.filter(pk__in=batch).delete()[0]

    nothing = _participants_idle(now).filter(
        ~Exists(Participation.objects.filter(participant=OuterRef("pk")))
    )
    for batch in _pk_batches(nothing, batch_size):
        # Asked again in the DELETE: a participation made meanwhile keeps its participant.
        _total, per_model = nothing.filter(pk__in=batch).delete()
        result.participants += per_model.get(Participant._meta.label, 0)
    return result


def _participants_left_with_nothing_count(*, now: datetime, expired: set[int], batch: int) -> int:
    """How many idle participants have no participation outside the expired campaigns."""
    count = 0
    for ids in _pk_batches(_participants_idle(now), batch):
        kept = {
            participant_id
            for participant_id, campaign_id in Participation.objects.filter(
                participant_id__in=ids
            ).values_list("participant_id", "campaign_id")
            if campaign_id not in expired
        }
        count += len(ids) - len(kept)
    return count
