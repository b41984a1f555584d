"""Alerts for the account's administrators when participants' logins fail for a reason only
they can fix (checklist OF-17, TE-07): the IdP rejects the client secret, refuses the scope,
signs id_tokens for another audience… and when their IdP is down long enough to open the
circuit breaker (RF-04).

The participant flow (participants/login/views.py) decides which failures are the
configuration's; this module keeps one `SignInAlert` per integration, tells the administrators
by e-mail (at most once per `EMAIL_INTERVAL` per integration, whatever the number of web
processes), and says what to check for each error code. The admin shows the same alert on the
integration's page.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, When
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import ngettext
from django_tasks import task

from accounts.permissions import administrator_emails
from core.links import link_url
from core.statements import rows_update
from integrations.models import OAuthIntegration, SignInAlert

logger = logging.getLogger(__name__)

# One e-mail per integration in this interval: a broken secret fails every login, and the
# administrators need to hear it once, not once per participant.
EMAIL_INTERVAL = timedelta(hours=6)


def sign_in_alert_raise(
    *, integration_id: int, error_code: str, reference: str, advice: str = ""
) -> None:
    """Count one configuration failure; e-mail the administrators unless done recently.

    `advice`: what the administrators should check, in words, from the failure catalogue of
    whoever raises the alert (participants/login/failures.py); kept with the alert."""
    now = timezone.now()
    active = Q(cleared_at__isnull=True)
    values = {
        "error_code": error_code[:60],
        "advice": advice,
        # An active alert counts on; a cleared one starts again from this failure.
        "failures": Case(When(active, then=F("failures") + 1), default=1),
        "first_at": Case(When(active, then=F("first_at")), default=now),
        "last_at": now,
        "last_reference": reference,
        "cleared_at": None,
    }
    alerts = SignInAlert.objects.filter(integration_id=integration_id)
    if not alerts.update(**values):
        try:
            with transaction.atomic():
                SignInAlert.objects.create(
                    integration_id=integration_id,
                    error_code=error_code[:60],
                    advice=advice,
                    failures=1,
                    first_at=now,
                    last_at=now,
                    last_reference=reference,
                )
        except IntegrityError:  # another process created it in the meantime: count on it
            alerts.update(**values)
    # The throttle is a conditional update: of any number of processes, one wins.
    due = Q(notified_at__isnull=True) | Q(notified_at__lt=now - EMAIL_INTERVAL)
    if alerts.filter(due).update(notified_at=now):
        transaction.on_commit(
            lambda: sign_in_alert_notify.enqueue(integration_id=integration_id), robust=True
        )


def active_alert(integration: OAuthIntegration | None) -> SignInAlert | None:
    """The integration's alert while it lasts. No query when the integration was loaded with
    it (`select_related("sign_in_alert")`, as the admin's list does)."""
    if integration is None or integration.pk is None:
        return None
    try:
        alert = integration.sign_in_alert
    except SignInAlert.DoesNotExist:
        return None
    return alert if alert.active else None


def alert_summary(alert: SignInAlert) -> str:
    """How many logins failed, with what, since when: the sentence every alert shows."""
    failed = ngettext("%(count)d login failed", "%(count)d logins failed", alert.failures) % {
        "count": alert.failures
    }
    since = date_format(timezone.localtime(alert.first_at), "DATETIME_FORMAT")
    return f"{failed} with “{alert.error_code}” since {since}"


def sign_in_alert_clear(*, integration_id: int) -> None:
    """A login worked: the alert, if any, is over (one UPDATE, which finds none mostly; sent
    through core/statements.py, since every successful login sends it)."""
    rows_update(
        SignInAlert,
        {"cleared_at": timezone.now()},
        integration_id=integration_id,
        cleared_at__isnull=True,
    )


def admin_path(name: str, *args, query: str = "") -> str:
    """An admin page's path, or "" on an admin site without that page."""
    try:
        return reverse(name, args=args) + query
    except NoReverseMatch:
        return ""


def admin_link(name: str, *args, query: str = "") -> str:
    """An absolute admin URL for an e-mail (PUBLIC_BASE_URL, never a request's Host)."""
    path = admin_path(name, *args, query=query)
    return f"{settings.PUBLIC_BASE_URL}{path}" if path else ""


def activity_log_link(integration_id: int, *, absolute: bool = False) -> str:
    """The SSO activity log, filtered on the integration: a participants' page, registered with
    core/links.py; "" when no app provides it."""
    path = link_url("integration_login_attempts", integration_id=integration_id)
    return f"{settings.PUBLIC_BASE_URL}{path}" if absolute and path else path


@task(queue_name="default")
def sign_in_alert_notify(integration_id: int) -> int:
    """E-mail the account's active administrators about the integration's alert; returns how
    many were written to. Nothing when the alert was cleared before the task ran."""
    alert = (
        SignInAlert.objects.select_related("integration__account")
        .filter(integration_id=integration_id, cleared_at__isnull=True)
        .first()
    )
    if alert is None:
        return 0
    integration = alert.integration
    account = integration.account
    recipients = administrator_emails(account)
    if not recipients:
        logger.warning(
            "Sign-in alert for integration %s of account %s: no administrator with an e-mail "
            "address to tell.",
            integration.pk,
            account.slug,
        )
        return 0
    settings_link = admin_link("admin:integrations_oauthintegration_change", integration.pk)
    activity_link = activity_log_link(integration.pk, absolute=True)
    lines = [
        f"Participants cannot log in with “{integration.display_name}” ({account.name}).",
        "",
        f"{alert_summary(alert)}. The last one has the error reference "
        f"{alert.last_reference or '—'}.",
        "",
        f"What to check: {alert.advice_text}",
        "",
        f"Integration settings: {settings_link}",
        *([f"SSO activity log: {activity_link}"] if activity_link else []),
        "",
        "The alert ends with the next successful login (a Test login from the integration page "
        "counts). You get at most one such e-mail every "
        f"{int(EMAIL_INTERVAL.total_seconds() // 3600)} hours for this integration.",
    ]
    send_mail(
        subject=f"Sign-in problem: {integration.display_name} ({account.name})",
        message="\n".join(lines),
        from_email=None,
        recipient_list=recipients,
    )
    logger.info(
        "Sign-in alert for integration %s (%s) sent to %d %s.",
        integration.pk,
        alert.error_code,
        len(recipients),
        "administrator" if len(recipients) == 1 else "administrators",
    )
    return len(recipients)
