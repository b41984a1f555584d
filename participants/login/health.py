"""How participants' logins fare, per integration: the counts that the SSO activity log shows
above its list (checklist RF-07, UI-03), by the failure class stored on each attempt
(participants/login/failures.py)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max
from django.utils import timezone

from participants.login.failures import CONFIGURATION, IDP, PARTICIPANT, advice_for
from participants.models import AttemptOutcome


@dataclass
class CodeCount:
    code: str
    count: int
    last: datetime

    @property
    def advice(self) -> str:
        return advice_for(self.code)


@dataclass
class IntegrationSummary:
    integration_id: int
    name: str
    succeeded: int = 0
    # Succeeded, but the userinfo call failed and the form was prefilled from the id_token.
    degraded: int = 0
    failed: dict[str, int] = field(
        default_factory=lambda: {CONFIGURATION: 0, IDP: 0, PARTICIPANT: 0}
    )
    # The configuration's failures by error code, most frequent first.
    configuration_codes: list[CodeCount] = field(default_factory=list)


def sign_in_summary(attempts, *, hours: int = 24) -> list[IntegrationSummary]:
    """Counts of the finished, real (not test) logins of the last `hours`, per integration, from
    `attempts` (a LoginAttempt queryset already scoped to what the user may see): one query."""
    since = timezone.now() - timedelta(hours=hours)
    rows = (
        attempts.filter(created_at__gte=since, is_test=False, integration__isnull=False)
        .exclude(outcome=AttemptOutcome.PENDING)
        .values(
            "integration_id",
            "integration__display_name",
            "outcome",
            "failure_class",
            "error_code",
            "warning_code",
        )
        .annotate(count=Count("id"), last=Max("created_at"))
        .order_by()
    )
    summaries: dict[int, IntegrationSummary] = {}
    for row in rows:
        summary = summaries.setdefault(
            row["integration_id"],
            IntegrationSummary(row["integration_id"], row["integration__display_name"]),
        )
        if row["outcome"] == AttemptOutcome.SUCCESS:
            summary.succeeded += row["count"]
            if row["warning_code"]:
                summary.degraded += row["count"]
            continue
        klass = row["failure_class"] or PARTICIPANT
        summary.failed[klass] += row["count"]
        if klass == CONFIGURATION:
            codes = summary.configuration_codes
            known = next((c for c in codes if c.code == row["error_code"]), None)
            if known is None:
                codes.append(CodeCount(row["error_code"], row["count"], row["last"]))
            else:
                known.count += row["count"]
                known.last = max(known.last, row["last"])
    for summary in summaries.values():
        summary.configuration_codes.sort(key=lambda c: (-c.count, c.code))
    return sorted(summaries.values(), key=lambda s: s.name.lower())
