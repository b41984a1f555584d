"""Alerts for the account's administrators when participants' logins fail for a reason only
they can fix (checklist OF-17, TE-07): the IdP rejects the client secret, refuses the scope,
signs id_tokens for another audience… and when their IdP is down long enough to open the
circuit breaker (RF-04).

The participant flow (participants/views_sso.py) decides which failures are the
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

from .models import OAuthIntegration, SignInAlert

logger = logging.getLogger(__name__)

# One e-mail per integration in this interval: a broken secret fails every login, and the
# administrators need to hear it once, not once per participant.
EMAIL_INTERVAL = timedelta(hours=6)

# What to check, by error code (the IdP's authorization error codes come prefixed "idp_").
_ADVICE = {
    "invalid_client": (
        "The IdP rejected the client credentials. Check the client ID, the client secret and "
        "the client authentication method."
    ),
    "unauthorized_client": (
        "The IdP does not let this client use the authorization code flow. Check the grant "
        "types allowed to the client at the IdP."
    ),
    "unsupported_grant_type": (
        "The IdP does not accept the authorization code grant from this client. Check the "
        "grant types allowed to the client at the IdP."
    ),
    "invalid_scope": (
        "The IdP refused the requested scope. Check the Scope field against the scopes the "
        "IdP allows this client."
    ),
    "invalid_request": (
        "The IdP refused the login request. Check the client ID, and that the callback URL "
        "shown on the integration page is registered at the IdP exactly as shown."
    ),
    "unsupported_response_type": (
        "The IdP does not allow the authorization code flow for this client. Check the "
        "client's settings at the IdP."
    ),
    "iss_mismatch": (
        "The IdP answered as another issuer than the one configured. Check the Issuer field "
        "(Advanced), or import the IdP's discovery URL again."
    ),
    "iss_missing": (
        "The IdP's discovery says it sends its issuer with each answer, but it did not. Check "
        "the Issuer settings (Advanced), or import the IdP's discovery URL again."
    ),
    "id_token_wrong_issuer": (
        "The id_token names another issuer than the one configured. Check the Issuer field "
        "(Advanced)."
    ),
    "id_token_wrong_audience": ("The id_token was issued to another client. Check the client ID."),
    "id_token_invalid_signature": (
        "No key at the JWKS URI verifies the id_token's signature. Check the JWKS URI (Advanced)."
    ),
    "id_token_unknown_key": (
        "The id_token is signed with a key that is not at the JWKS URI. Check the JWKS URI "
        "(Advanced)."
    ),
    "id_token_no_keys": "The IdP sends id_tokens but no JWKS URI is set (Advanced).",
    "id_token_unsupported_alg": (
        "The IdP signs id_tokens with an algorithm we do not accept. Ask for RS256 or ES256."
    ),
    "id_token_missing": (
        "The scope asks for OpenID Connect (openid) but the IdP sent no id_token. Check the "
        "scope and the client's settings at the IdP."
    ),
    "required_missing": (
        "Profiles lack a value that the profile mapping requires. Check the scope, and run a "
        "Test login to see what the IdP sends."
    ),
    "subject_missing": (
        "The IdP's profile has no subject identifier (sub). Check the scope and the profile "
        "endpoint."
    ),
    # Not a setting: the IdP itself failed logins in a row (participants/sign_in_health.py).
    "circuit_open": (
        "Your IdP's token endpoint failed several logins in a row (timeouts, refused "
        "connections or server errors). Logins with it pause for a short while at a time and "
        "resume by themselves once it answers again. Check that your IdP is up."
    ),
    "integration_unusable": (
        "The integration's settings cannot be used (the client secret cannot be decrypted). "
        "Enter the client secret again."
    ),
}
_DEFAULT_ADVICE = (
    "Look the error reference up in the SSO activity log, and run a Test login from the "
    "integration page to see the IdP's answer."
)


def advice_for(error_code: str) -> str:
    code = error_code.removeprefix("idp_")
    return _ADVICE.get(code) or _ADVICE.get(error_code) or _DEFAULT_ADVICE


def sign_in_alert_raise(*, integration_id: int, error_code: str, reference: str) -> None:
    """Count one configuration failure; e-mail the administrators unless done recently."""
    now = timezone.now()
    active = Q(cleared_at__isnull=True)
    values = {
        "error_code": error_code[:60],
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
    it (`select_related("sign_in_alert")`, as the callback and the admin's list do)."""
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


def sign_in_alert_clear(integration: OAuthIntegration) -> None:
    """A login worked: the alert, if any, is over."""
    if (alert := active_alert(integration)) is not None:
        SignInAlert.objects.filter(pk=alert.pk, cleared_at__isnull=True).update(
            cleared_at=timezone.now()
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
    """The SSO activity log, filtered on the integration."""
    link = admin_link if absolute else admin_path
    return link(
        "admin:participants_loginattempt_changelist",
        query=f"?integration__id__exact={integration_id}",
    )


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
    lines = [
        f"Participants cannot log in with “{integration.display_name}” ({account.name}).",
        "",
        f"{alert_summary(alert)}. The last one has the error reference "
        f"{alert.last_reference or '—'}.",
        "",
        f"What to check: {advice_for(alert.error_code)}",
        "",
        f"Integration settings: {settings_link}",
        f"SSO activity log: {activity_log_link(integration.pk, absolute=True)}",
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
