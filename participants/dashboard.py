"""The admin's home page: one account at a time, what its people need to see first.

Each panel shows only to whom its role allows it: campaigns and participations to Editors too,
logins and sign-in alerts to who reads the SSO activity, webhooks to who manages them
(`accounts.permissions`). A user of several accounts (platform staff: all of them) picks one.
"""

from dataclasses import dataclass

from accounts.models import Account
from accounts.permissions import Capability, accounts_for, can
from participants.charts import DailyChart
from participants.models import LoginAttempt, Participation
from participants.statistics import (
    DEFAULT_PERIOD,
    EndpointHealth,
    LiveCampaign,
    LoginHealth,
    Period,
    live_campaigns,
    login_health,
    open_alerts,
    participations_by_day,
    participations_chart,
    webhook_health,
)

# More accounts than this: the picker lists the first ones by name, and any other is reached
# with ?account=<id> (from the Accounts list).
ACCOUNTS_LISTED = 200


@dataclass
class Dashboard:
    account: Account
    accounts: list[Account]
    period: Period
    live: list[LiveCampaign]
    live_count: int
    participations: DailyChart
    logins: LoginHealth | None = None
    alerts: list | None = None
    webhooks: list[EndpointHealth] | None = None

    @property
    def participations_total(self) -> int:
        return int(self.participations.total)


def dashboard_for(*, user, account_id: str | None = None) -> Dashboard | None:
    """The dashboard of the account `account_id` names, if the user may see it, else of their
    first account by name; None for a user without any."""
    visible = accounts_for(user, Capability.MANAGE_CAMPAIGNS).order_by("name", "pk")
    accounts = list(visible[:ACCOUNTS_LISTED])
    if not accounts:
        return None
    account = accounts[0]
    if account_id and account_id.isdigit():
        chosen = next((a for a in accounts if a.pk == int(account_id)), None)
        if chosen is None:
            chosen = visible.filter(pk=int(account_id)).first()
        account = chosen or account
    period = Period.last(DEFAULT_PERIOD)
    live, live_count = live_campaigns(account.pk, period)
    days = participations_by_day(
        Participation.objects.filter(campaign__account_id=account.pk), period
    )
    dashboard = Dashboard(
        account=account,
        accounts=accounts,
        period=period,
        live=live,
        live_count=live_count,
        participations=participations_chart(days, period),
    )
    if can(user, Capability.VIEW_SSO_ACTIVITY, account):
        dashboard.logins = login_health(LoginAttempt.objects.filter(account=account), period)
    if can(user, Capability.MANAGE_OAUTH, account):
        dashboard.alerts = open_alerts(account.pk)
    if can(user, Capability.MANAGE_WEBHOOKS, account):
        dashboard.webhooks = webhook_health(account.pk, period)
    return dashboard
