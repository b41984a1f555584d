"""How participants' logins fare, per integration: each failure's class, and the counts that the
SSO activity log shows above its list (checklist RF-07, UI-03).

A failure is the **configuration**'s when only the account's administrators can end it (the IdP
rejects the client secret, an id_token for another audience, a mapping that requires what the
IdP never sends); those raise a sign-in alert (integrations/sign_in_alerts.py). The **IdP**'s
when it is down or slow: it passes by itself, and the circuit breaker covers it. The
**participant**'s when it is one person's: they cancelled at the IdP, their link expired, they
came back in another browser.

What the callback's query string says (`error=invalid_client`, a wrong `iss`) is never the
configuration's: anyone can open that URL, so a failure at a front-channel step counts on the
participant's side, where it cannot raise an alert. The configuration class is reserved for
what the IdP answered over our own connection (token, id_token, JWKS, profile).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import Count, Max, Q
from django.utils import timezone

from integrations.sign_in_alerts import advice_for, sign_in_alert_raise

from .models import AttemptOutcome, LoginAttempt
from .sso_failures import FRONT_CHANNEL_STEPS

CONFIGURATION = "configuration"
IDP = "idp"
PARTICIPANT = "participant"

_CONFIGURATION_KINDS = frozenset(
    {"idp_configuration", "issuer_mismatch", "id_token_invalid", "mapping_incomplete"}
)
_IDP_KINDS = frozenset({"idp_unavailable", "idp_timeout"})
# An id_token whose nonce does not match is a replayed or injected token, not a setting.
_PARTICIPANT_CODES = frozenset({"id_token_nonce_mismatch"})
# The profile could not be read: the IdP's fault when it failed to answer, the configuration's
# when it answered without a subject.
_IDP_PROFILE_SUFFIXES = ("_timeout", "_connection", "_tls", "_failed", "_http")


def failure_class(kind: str, code: str, step: str) -> str:
    if code in _PARTICIPANT_CODES or step in FRONT_CHANNEL_STEPS:
        return PARTICIPANT
    if kind in _CONFIGURATION_KINDS or code == "integration_unusable":
        return CONFIGURATION
    if kind in _IDP_KINDS:
        return IDP
    if kind == "profile_failed":
        return IDP if code.endswith(_IDP_PROFILE_SUFFIXES) else CONFIGURATION
    return PARTICIPANT


def failure_class_q(klass: str) -> Q:
    """The failed attempts of one class, as a filter: `failure_class` in SQL (the SSO activity
    log's "By failure class")."""
    profile_idp = Q(failure_kind="profile_failed") & reduce(
        or_, (Q(error_code__endswith=suffix) for suffix in _IDP_PROFILE_SUFFIXES)
    )
    not_participant_code = ~Q(error_code__in=_PARTICIPANT_CODES) & ~Q(
        failed_step__in=FRONT_CHANNEL_STEPS
    )
    configuration = not_participant_code & (
        Q(failure_kind__in=_CONFIGURATION_KINDS)
        | Q(error_code="integration_unusable")
        | (Q(failure_kind="profile_failed") & ~profile_idp)
    )
    idp = (
        not_participant_code
        & ~Q(error_code="integration_unusable")
        & (Q(failure_kind__in=_IDP_KINDS) | profile_idp)
    )
    failed = Q(outcome=AttemptOutcome.FAILED)
    if klass == CONFIGURATION:
        return failed & configuration
    if klass == IDP:
        return failed & idp
    return failed & ~configuration & ~idp


def sign_in_failure_noted(
    attempt: LoginAttempt,
    *,
    kind: str,
    code: str,
    step: str,
    reference: str,
    circuit_opened: bool = False,
) -> None:
    """After a failed login is recorded: a configuration failure of a real login raises the
    integration's alert, and so does an IdP outage, once it opens the circuit breaker (RF-04).
    Test logins don't (the administrator is looking at the result)."""
    if attempt.is_test or attempt.integration_id is None:
        return
    if circuit_opened:
        code = "circuit_open"
    elif failure_class(kind, code, step) != CONFIGURATION:
        return
    sign_in_alert_raise(integration_id=attempt.integration_id, error_code=code, reference=reference)


# ---------------------------------------------------------------------------- summary
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
            "failure_kind",
            "error_code",
            "failed_step",
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
        klass = failure_class(row["failure_kind"], row["error_code"], row["failed_step"])
        summary.failed[klass] += row["count"]
        if klass == CONFIGURATION:
            codes = summary.configuration_codes
            known = next((c for c in codes if c.code == row["error_code"]), None)
            if known is None:  # one row per code and kind: two kinds may share a code
                codes.append(CodeCount(row["error_code"], row["count"], row["last"]))
            else:
                known.count += row["count"]
                known.last = max(known.last, row["last"])
    for summary in summaries.values():
        summary.configuration_codes.sort(key=lambda c: (-c.count, c.code))
    return sorted(summaries.values(), key=lambda s: s.name.lower())
