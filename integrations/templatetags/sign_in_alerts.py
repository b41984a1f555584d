"""`{% sign_in_alert_banner %}`: the active sign-in alerts on the admin's home page, for the
users who may manage those integrations (an account's Administrators, platform staff)."""

from django import template
from django.urls import reverse

from accounts.permissions import Capability, accounts_for
from integrations.models import SignInAlert
from integrations.oauth.alerts import alert_summary

register = template.Library()

# Platform staff see every account's: enough to notice, not a report.
SHOWN = 10


@register.inclusion_tag("admin/integrations/sign_in_alert_banner.html", takes_context=True)
def sign_in_alert_banner(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"alerts": [], "more": 0}
    alerts = (
        SignInAlert.objects.filter(
            cleared_at__isnull=True,
            integration__account__in=accounts_for(user, Capability.MANAGE_OAUTH),
        )
        .select_related("integration__account")
        .order_by("-last_at")
    )
    shown = list(alerts[: SHOWN + 1])
    rows = [
        {
            "alert": alert,
            "summary": alert_summary(alert),
            "advice": alert.advice_text,
            "url": reverse(
                "admin:integrations_oauthintegration_change", args=[alert.integration_id]
            ),
        }
        for alert in shown[:SHOWN]
    ]
    return {"alerts": rows, "more": alerts.count() - SHOWN if len(shown) > SHOWN else 0}
