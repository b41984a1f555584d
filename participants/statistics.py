"""What the numbers say: one campaign's statistics, and the counts the admin's dashboard shows per
account. Every function runs a fixed number of queries whatever the number of participations
(the database counts and groups; Python only fills the days without any).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Count, Max, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
from integrations.models import DeliveryStatus, SignInAlert, WebhookEndpoint
from participants.charts import DailyChart, DailyPoint
from participants.login.failures import CONFIGURATION, IDP, PARTICIPANT, advice_for
from participants.models import AttemptOutcome, LoginAttempt, Participation

PERIODS = (7, 30, 90, 365)
DEFAULT_PERIOD = 30
# Fields whose value participants correct this often (or more) are worth a look at the mapping.
WEAK_CORRECTION_RATE = 0.2

_NOT_PREFILLED = Q(prefilled={})
FAILURE_CLASS_LABELS = {
    CONFIGURATION: "Configuration",
    IDP: "Identity provider unavailable",
    "participant": "Participant's side",
}


# ---------------------------------------------------------------------------- periods and days
@dataclass(frozen=True)
class Period:
    days: int
    first_day: date
    since: datetime  # the start of first_day, in the current time zone

    @classmethod
    def last(cls, days: int, *, now: datetime | None = None) -> "Period":
        now = timezone.localtime(now or timezone.now())
        first_day = now.date() - timedelta(days=days - 1)
        since = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
        return cls(days, first_day, since)

    def each_day(self) -> list[date]:
        return [self.first_day + timedelta(days=offset) for offset in range(self.days)]


def period_from(value: str | None) -> Period:
    """The period a page asks for (`?days=`), one of PERIODS, else the default."""
    days = int(value) if value and value.isdigit() and int(value) in PERIODS else DEFAULT_PERIOD
    return Period.last(days)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percent_text(part: int, whole: int) -> str:
    """ "75 %" (English admin; the number and the sign kept together), or "—" of nothing."""
    share = _share(part, whole)
    return "—" if share is None else f"{round(share * 100)}\u00a0%"


# ---------------------------------------------------------------------------- participations
@dataclass(frozen=True)
class DayCount:
    total: int = 0
    prefilled: int = 0


def participations_by_day(participations: QuerySet, period: Period) -> dict[date, DayCount]:
    """{day: (participations, of which prefilled by a login)} in the period: one query."""
    rows = (
        participations.filter(submitted_at__gte=period.since)
        .annotate(day=TruncDate("submitted_at"))
        .values("day")
        .annotate(n_total=Count("id"), n_prefilled=Count("id", filter=~_NOT_PREFILLED))
        .order_by()
    )
    return {row["day"]: DayCount(row["n_total"], row["n_prefilled"]) for row in rows}


def participations_chart(days: dict[date, DayCount], period: Period) -> DailyChart:
    return DailyChart(
        "Participations",
        "participations",
        "Participations",
        [
            DailyPoint(day, days.get(day, DayCount()).total, str(days.get(day, DayCount()).total))
            for day in period.each_day()
        ],
    )


def prefilled_share_chart(days: dict[date, DayCount], period: Period) -> DailyChart:
    points = []
    for day in period.each_day():
        count = days.get(day, DayCount())
        share = _share(count.prefilled, count.total)
        text = (
            f"{percent_text(count.prefilled, count.total)} ({count.prefilled} of {count.total})"
            if count.total
            else "— (no participation)"
        )
        points.append(DailyPoint(day, None if share is None else share * 100, text))
    return DailyChart("Share of forms prefilled by a login", "%", "Prefilled", points, percent=True)


# ---------------------------------------------------------------------------- logins
@dataclass(frozen=True)
class LoginDay:
    succeeded: int = 0
    failed: int = 0


def logins_by_day(attempts: QuerySet, period: Period) -> dict[date, LoginDay]:
    """{day: (logins that worked, failed)} of participants (not test logins): one query."""
    rows = (
        attempts.filter(created_at__gte=period.since, is_test=False)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            succeeded=Count("id", filter=Q(outcome=AttemptOutcome.SUCCESS)),
            failed=Count("id", filter=Q(outcome=AttemptOutcome.FAILED)),
        )
        .order_by()
    )
    return {row["day"]: LoginDay(row["succeeded"], row["failed"]) for row in rows}


def logins_chart(days: dict[date, LoginDay], period: Period) -> DailyChart:
    points = []
    for day in period.each_day():
        count = days.get(day, LoginDay())
        text = f"{count.succeeded}" + (f" ({count.failed} failed)" if count.failed else "")
        points.append(DailyPoint(day, count.succeeded, text))
    return DailyChart("SSO logins that worked", "logins", "Logins", points)


@dataclass(frozen=True)
class FailureReason:
    error_code: str
    failure_class: str
    count: int
    last: datetime

    @property
    def class_label(self) -> str:
        return FAILURE_CLASS_LABELS[self.failure_class]

    @property
    def advice(self) -> str:
        return advice_for(self.error_code)


@dataclass
class LoginHealth:
    succeeded: int = 0
    failed: int = 0
    # Participants who never came back from the IdP: their attempt expired unanswered.
    abandoned: int = 0
    reasons: list[FailureReason] = field(default_factory=list)

    @property
    def started(self) -> int:
        return self.succeeded + self.failed + self.abandoned

    @property
    def success_rate(self) -> str:
        return percent_text(self.succeeded, self.started)


def login_health(attempts: QuerySet, period: Period, *, reasons: int = 5) -> LoginHealth:
    """How participants' logins fared in the period (test logins aside): two queries."""
    now = timezone.now()
    real = attempts.filter(created_at__gte=period.since, is_test=False)
    totals = real.aggregate(
        succeeded=Count("id", filter=Q(outcome=AttemptOutcome.SUCCESS)),
        failed=Count("id", filter=Q(outcome=AttemptOutcome.FAILED)),
        abandoned=Count("id", filter=Q(outcome=AttemptOutcome.PENDING, expires_at__lte=now)),
    )
    health = LoginHealth(**totals)
    rows = (
        real.filter(outcome=AttemptOutcome.FAILED)
        .values("error_code", "failure_class")
        .annotate(count=Count("id"), last=Max("created_at"))
        .order_by("-count", "error_code")[:reasons]
    )
    health.reasons = [
        FailureReason(
            row["error_code"] or "unknown",
            row["failure_class"] or PARTICIPANT,
            row["count"],
            row["last"],
        )
        for row in rows
    ]
    return health


# ---------------------------------------------------------------------------- corrections
@dataclass(frozen=True)
class FieldCorrection:
    variable: str
    label: str
    # Participations where the IdP gave this field a value.
    prefilled: int
    # ... of which the participant submitted another value.
    corrected: int
    # Participations where the IdP had no value and the participant gave one.
    added: int

    @property
    def rate(self) -> float | None:
        return _share(self.corrected, self.prefilled)

    @property
    def rate_text(self) -> str:
        return percent_text(self.corrected, self.prefilled)

    @property
    def rate_percent(self) -> int:
        return round((self.rate or 0) * 100)

    @property
    def weak(self) -> bool:
        return self.rate is not None and self.rate >= WEAK_CORRECTION_RATE


def _changed_has(variable: str) -> Q:
    # `changed` is a JSON list of variable names ([a-z0-9_]). PostgreSQL looks it up in the
    # jsonb (@>); SQLite cannot, so there the quoted name is sought in the list's JSON text,
    # which only matches the whole name.
    if connection.features.supports_json_field_contains:
        return Q(changed__contains=[variable])
    return Q(changed__icontains=f'"{variable}"')


def field_corrections(participations: QuerySet, campaign: Campaign) -> list[FieldCorrection]:
    """Per form field, how often participants changed what the IdP gave: two queries."""
    fields = [(f.variable, f.label("en")) for f in campaign.fields.all()]
    if not fields:
        return []
    counts = {}
    for index, (variable, _label) in enumerate(fields):
        prefilled = Q(prefilled__has_key=variable)
        counts[f"p{index}"] = Count("id", filter=prefilled)
        counts[f"c{index}"] = Count("id", filter=prefilled & _changed_has(variable))
        counts[f"a{index}"] = Count("id", filter=~prefilled & _changed_has(variable))
    totals = participations.aggregate(**counts)
    return [
        FieldCorrection(
            variable, label, totals[f"p{index}"], totals[f"c{index}"], totals[f"a{index}"]
        )
        for index, (variable, label) in enumerate(fields)
    ]


# ---------------------------------------------------------------------------- one campaign
@dataclass
class CampaignStatistics:
    campaign: Campaign
    period: Period
    participations: int
    prefilled: int
    changed: int
    period_participations: int
    logins: LoginHealth
    charts: list[DailyChart]
    corrections: list[FieldCorrection]

    @property
    def prefilled_share(self) -> str:
        return percent_text(self.prefilled, self.participations)

    @property
    def changed_share(self) -> str:
        return percent_text(self.changed, self.prefilled)


def campaign_statistics(*, campaign: Campaign, period: Period) -> CampaignStatistics:
    """Totals, per-day charts and per-field corrections of one campaign: seven queries."""
    participations = Participation.objects.filter(campaign=campaign)
    # Aliases unlike the fields' names: a filter on `prefilled` must read the field.
    totals = participations.aggregate(
        n_total=Count("id"),
        n_prefilled=Count("id", filter=~_NOT_PREFILLED),
        n_changed=Count("id", filter=~_NOT_PREFILLED & ~Q(changed=[])),
        n_in_period=Count("id", filter=Q(submitted_at__gte=period.since)),
    )
    attempts = LoginAttempt.objects.filter(campaign=campaign)
    days = participations_by_day(participations, period)
    return CampaignStatistics(
        campaign=campaign,
        period=period,
        participations=totals["n_total"],
        prefilled=totals["n_prefilled"],
        changed=totals["n_changed"],
        period_participations=totals["n_in_period"],
        logins=login_health(attempts, period),
        charts=[
            participations_chart(days, period),
            logins_chart(logins_by_day(attempts, period), period),
            prefilled_share_chart(days, period),
        ],
        corrections=field_corrections(
            participations.filter(submitted_at__gte=period.since), campaign
        ),
    )


# ---------------------------------------------------------------------------- the dashboard
@dataclass(frozen=True)
class LiveCampaign:
    campaign: Campaign
    recent: int  # participations in the period


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: WebhookEndpoint
    pending: int
    failed: int
    delivered: int

    @property
    def state(self) -> str:
        if self.endpoint.disabled_at is not None:
            return "Disabled"
        if not self.endpoint.is_active:
            return "Switched off"
        if self.endpoint.failing_since is not None:
            return "Failing"
        return "Working"


LIVE_SHOWN = 10
ENDPOINTS_SHOWN = 10


def live_campaigns(account_id: int, period: Period) -> tuple[list[LiveCampaign], int]:
    """The account's campaigns open to participants now, with their participations in the
    period, busiest first (the first LIVE_SHOWN), and how many there are: two queries."""
    now = timezone.now()
    live = Campaign.objects.filter(account_id=account_id, status=CampaignStatus.LIVE).filter(
        Q(starts_at__isnull=True) | Q(starts_at__lte=now),
        Q(ends_at__isnull=True) | Q(ends_at__gt=now),
    )
    rows = live.annotate(
        recent=Count("participations", filter=Q(participations__submitted_at__gte=period.since))
    ).order_by("-recent", "title")[:LIVE_SHOWN]
    shown = [LiveCampaign(campaign, campaign.recent) for campaign in rows]
    count = len(shown) if len(shown) < LIVE_SHOWN else live.count()
    return shown, count


def open_alerts(account_id: int) -> list[SignInAlert]:
    return list(
        SignInAlert.objects.filter(integration__account_id=account_id, cleared_at__isnull=True)
        .select_related("integration")
        .order_by("-last_at")[:10]
    )


def webhook_health(account_id: int, period: Period) -> list[EndpointHealth]:
    """Each endpoint of the account with its pending deliveries, and the failed and delivered
    ones of the period: one query."""
    in_period = Q(deliveries__created_at__gte=period.since)
    endpoints = (
        WebhookEndpoint.objects.filter(account_id=account_id)
        .annotate(
            pending=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
            failed=Count(
                "deliveries", filter=in_period & Q(deliveries__status=DeliveryStatus.FAILED)
            ),
            delivered=Count(
                "deliveries", filter=in_period & Q(deliveries__status=DeliveryStatus.DELIVERED)
            ),
        )
        .order_by("url")[:ENDPOINTS_SHOWN]
    )
    return [EndpointHealth(e, e.pending, e.failed, e.delivered) for e in endpoints]
