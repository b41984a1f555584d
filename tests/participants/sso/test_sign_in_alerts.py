"""Sign-in alerts: logins that fail for a reason only the account's administrators can fix
reach them by e-mail and in the admin (checklist OF-17, TE-07); other failures don't."""

import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from integrations.models import SignInAlert
from participants.models import AttemptOutcome, LoginAttempt
from participants.sign_in_health import (
    CONFIGURATION,
    IDP,
    PARTICIPANT,
    failure_class,
    failure_class_q,
)
from tests.factories import make_member
from tests.participants.sso_flow import (
    TOKEN_URL,
    Started,
    callback,
    callback_path,
    idp_answers,
    login_start,
    make_sso_campaign,
    mock,
)
from tests.participants.test_sso_activity import make_attempt

SECRET = "s3cr3t-that-must-not-travel"


def fail_with_invalid_client(client, campaign):
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(
            TOKEN_URL,
            status=401,
            json={"error": "invalid_client", "error_description": f"bad secret {SECRET}"},
        )
        response = callback(client, started)
    assert response.status_code == 502
    return LoginAttempt.objects.order_by("-id").first()


def client_for(user):
    admin_client = Client()
    admin_client.force_login(user)
    return admin_client


def succeed(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        assert callback(client, started).status_code == 303


@pytest.fixture
def admins(account, other_account):
    """Who may hear of account A's alert, and who may not."""
    return {
        "admin": make_member(account, Role.ADMINISTRATOR, username="admin-a"),
        "editor": make_member(account, Role.EDITOR, username="editor-a"),
        "inactive": make_member(account, Role.ADMINISTRATOR, username="gone-a", is_active=False),
        "no_email": make_member(account, Role.ADMINISTRATOR, username="quiet-a", email=""),
        "other": make_member(other_account, Role.ADMINISTRATOR, username="admin-b"),
    }


def test_invalid_client_tells_the_administrators_once(
    client, campaign, integration, admins, django_capture_on_commit_callbacks
):
    integration.client_secret = SECRET
    integration.save()
    with django_capture_on_commit_callbacks(execute=True):
        first = fail_with_invalid_client(client, campaign)
    assert first.failure_kind == "idp_configuration"

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["admin-a@example.com"]  # not the editor, the inactive, account B
    assert "Example ID" in message.subject and "Account A" in message.subject
    assert "invalid_client" in message.body
    assert "client secret" in message.body  # what to check
    assert first.error_reference in message.body
    change = reverse("admin:integrations_oauthintegration_change", args=[integration.pk])
    assert f"https://sso.example.test{change}" in message.body
    assert SECRET not in message.body and "the-code" not in message.body

    # More participants fail the same way: counted, not e-mailed again.
    with django_capture_on_commit_callbacks(execute=True):
        fail_with_invalid_client(client, campaign)
        fail_with_invalid_client(client, campaign)
    assert len(mail.outbox) == 1
    alert = SignInAlert.objects.get(integration=integration)
    assert alert.active and alert.failures == 3 and alert.error_code == "invalid_client"


def test_a_failure_after_the_interval_is_told_again(
    client, campaign, integration, admins, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        fail_with_invalid_client(client, campaign)
    SignInAlert.objects.update(notified_at=timezone.now() - timedelta(hours=6, minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        fail_with_invalid_client(client, campaign)
    assert len(mail.outbox) == 2
    assert "2 logins failed" in mail.outbox[1].body


def test_a_successful_login_ends_the_alert(
    client, campaign, integration, idp, admins, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        fail_with_invalid_client(client, campaign)
    succeed(client, campaign, idp)
    alert = SignInAlert.objects.get(integration=integration)
    assert not alert.active

    # Broken again: the count starts over (the e-mail waits for the interval).
    with django_capture_on_commit_callbacks(execute=True):
        fail_with_invalid_client(client, campaign)
    alert.refresh_from_db()
    assert alert.active and alert.failures == 1
    assert len(mail.outbox) == 1


def test_an_alert_cleared_before_its_task_runs_sends_nothing(
    client, campaign, integration, idp, admins, django_capture_on_commit_callbacks
):
    # The e-mail task is queued at the failure; by the time a worker runs it, a login worked.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fail_with_invalid_client(client, campaign)
    succeed(client, campaign, idp)
    for queued in callbacks:
        queued()
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("token_answer", "kind"),
    [
        ({"status": 503}, "idp_unavailable"),  # the IdP is down: it passes by itself
        ({"status": 400, "json": {"error": "invalid_grant"}}, "code_expired"),  # one person's
    ],
)
def test_failures_that_are_not_the_configurations_raise_no_alert(
    client, campaign, admins, token_answer, kind, django_capture_on_commit_callbacks
):
    started = login_start(client, campaign)
    with django_capture_on_commit_callbacks(execute=True), mock() as rsps:
        rsps.post(TOKEN_URL, **token_answer)
        callback(client, started)
    assert LoginAttempt.objects.get().failure_kind == kind
    assert not SignInAlert.objects.exists()
    assert mail.outbox == []


def test_a_participant_who_cancels_at_the_idp_raises_no_alert(
    client, campaign, admins, django_capture_on_commit_callbacks
):
    started = login_start(client, campaign)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(callback_path(started), {"error": "access_denied", "state": started.state})
    assert LoginAttempt.objects.get().failure_kind == "access_denied"
    assert not SignInAlert.objects.exists() and mail.outbox == []


@pytest.mark.parametrize(
    "query",
    [
        {"error": "invalid_client"},
        {"error": "invalid_scope", "error_description": "The Scope field is wrong"},
        {"error": "unauthorized_client"},
        {"code": "the-code", "iss": "https://attacker.example/"},
        {"error": "server_error"},
    ],
    ids=["invalid_client", "invalid_scope", "unauthorized_client", "forged_iss", "server_error"],
)
def test_what_the_callback_query_says_never_raises_an_alert(
    client, campaign, integration, admins, query, django_capture_on_commit_callbacks
):
    """Finding 3 of issue 14: anyone who starts a login can open the callback with any query
    and used to raise the "participants cannot log in" banner and e-mail. The query is the
    front channel: recorded, never an alert, never the configuration's failure."""
    started = login_start(client, campaign)
    with django_capture_on_commit_callbacks(execute=True), mock() as rsps:
        response = client.get(callback_path(started), {**query, "state": started.state})
        assert len(rsps.calls) == 0  # and no token request
    assert response.status_code in (400, 502, 503)
    attempt = LoginAttempt.objects.get()
    assert attempt.outcome == AttemptOutcome.FAILED
    assert attempt.failed_step in ("authorize", "callback")
    assert failure_class(attempt.failure_kind, attempt.error_code, attempt.failed_step) != (
        CONFIGURATION
    )
    assert not SignInAlert.objects.exists()
    assert mail.outbox == []
    admin_page = client_for(admins["admin"]).get(
        reverse("admin:integrations_oauthintegration_changelist")
    )
    assert "Participants cannot log in" not in admin_page.text


def test_what_the_token_endpoint_says_does_raise_the_alert(
    client, campaign, integration, admins, django_capture_on_commit_callbacks
):
    # The same invalid_client, from the IdP over our own connection: the administrators' to fix.
    with django_capture_on_commit_callbacks(execute=True):
        fail_with_invalid_client(client, campaign)
    assert SignInAlert.objects.get(integration=integration).error_code == "invalid_client"
    assert len(mail.outbox) == 1


def test_a_profile_without_a_required_value_is_the_configurations(
    client, account, admins, idp, django_capture_on_commit_callbacks
):
    campaign, integration = make_sso_campaign(
        account, rules=[("firstname", "given_name", "", True)]
    )
    started = login_start(client, campaign)
    with django_capture_on_commit_callbacks(execute=True), mock() as rsps:
        idp_answers(rsps, idp, started)  # no given_name
        callback(client, started)
    assert SignInAlert.objects.get(integration=integration).error_code == "required_missing"
    assert "mapping" in mail.outbox[0].body


def test_without_administrators_to_tell_the_alert_stays_in_the_admin(
    client, campaign, integration, caplog, django_capture_on_commit_callbacks
):
    make_member(campaign.account, Role.EDITOR, username="editor-only")
    with django_capture_on_commit_callbacks(execute=True):
        fail_with_invalid_client(client, campaign)
    assert mail.outbox == []
    assert SignInAlert.objects.get(integration=integration).active
    assert "no administrator with an e-mail address" in caplog.text


def test_a_failed_test_login_raises_no_alert_and_a_good_one_ends_it(
    client, campaign, integration, idp, admins, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        fail_with_invalid_client(client, campaign)
    client.force_login(admins["admin"])
    test_start = reverse("participants:test_login_start", args=[integration.pk])

    def test_login(**token_answer):
        response = client.get(test_start)
        query = parse_qs(urlsplit(response["Location"]).query)
        started = Started(response=response, params={k: v[0] for k, v in query.items()})
        with mock() as rsps:
            if token_answer:
                rsps.post(TOKEN_URL, **token_answer)
            else:
                idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
            return callback(client, started)

    with django_capture_on_commit_callbacks(execute=True):
        test_login(status=401, json={"error": "invalid_client"})
    assert SignInAlert.objects.get().failures == 1  # the administrator's test is not counted
    test_login()
    assert not SignInAlert.objects.get().active
    assert len(mail.outbox) == 1


def test_secret_never_reaches_the_alert_logs(
    client, campaign, integration, admins, caplog, django_capture_on_commit_callbacks
):
    integration.client_secret = SECRET
    integration.save()
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        fail_with_invalid_client(client, campaign)
    assert "sent to 1 administrator" in caplog.text
    assert SECRET not in caplog.text
    # The error code is legible for support ("code" alone is the authorization code's name,
    # which the log filter redacts).
    assert "step=token error=invalid_client" in caplog.text


CLASSES = [
    ("idp_configuration", "invalid_client", "token", CONFIGURATION),
    ("id_token_invalid", "id_token_wrong_audience", "id_token", CONFIGURATION),
    ("mapping_incomplete", "required_missing", "mapping", CONFIGURATION),
    ("integration_unavailable", "integration_unusable", "token", CONFIGURATION),
    ("profile_failed", "subject_missing", "profile", CONFIGURATION),
    ("profile_failed", "userinfo_invalid_json", "userinfo", CONFIGURATION),
    ("profile_failed", "userinfo_failed", "userinfo", IDP),  # the userinfo endpoint answered 5xx
    ("profile_failed", "userinfo_timeout", "userinfo", IDP),
    ("idp_unavailable", "token_http", "token", IDP),
    ("idp_timeout", "token_timeout", "token", IDP),
    ("id_token_invalid", "id_token_nonce_mismatch", "id_token", PARTICIPANT),  # injected
    ("code_expired", "invalid_grant", "token", PARTICIPANT),
    ("access_denied", "idp_access_denied", "authorize", PARTICIPANT),
    ("state_expired", "state_expired", "state", PARTICIPANT),
    ("integration_unavailable", "campaign_unavailable", "token", PARTICIPANT),
    ("", "invalid_client", "token", PARTICIPANT),  # attempts recorded before the kind was kept
    # The callback's query string (front channel): anyone can forge it, so never the
    # configuration's, whatever it says.
    ("idp_configuration", "idp_invalid_scope", "authorize", PARTICIPANT),
    ("idp_configuration", "idp_invalid_client", "authorize", PARTICIPANT),
    ("issuer_mismatch", "iss_mismatch", "authorize", PARTICIPANT),
    ("issuer_mismatch", "iss_missing", "authorize", PARTICIPANT),
    ("idp_configuration", "code_missing", "authorize", PARTICIPANT),
    ("callback_mismatch", "callback_mismatch", "callback", PARTICIPANT),
    ("shared_callback_refused", "shared_callback_refused", "callback", PARTICIPANT),
]


@pytest.mark.parametrize(("kind", "code", "step", "expected"), CLASSES)
def test_failure_classes(kind, code, step, expected):
    assert failure_class(kind, code, step) == expected


@pytest.mark.django_db
def test_the_activity_log_filter_agrees_with_the_classes(account):
    # The "By failure class" filter is failure_class() in SQL: the same row, the same class.
    rows = {}
    for kind, code, step, expected in CLASSES:
        attempt = make_attempt(
            account,
            outcome=AttemptOutcome.FAILED,
            failure_kind=kind,
            error_code=code,
            failed_step=step,
        )
        rows[attempt.pk] = expected
    make_attempt(account, outcome=AttemptOutcome.SUCCESS)  # in no class
    for klass in (CONFIGURATION, IDP, PARTICIPANT):
        found = set(
            LoginAttempt.objects.filter(failure_class_q(klass)).values_list("pk", flat=True)
        )
        assert found == {pk for pk, expected in rows.items() if expected == klass}, klass
