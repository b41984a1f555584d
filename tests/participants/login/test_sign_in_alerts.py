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
from participants.login.failures import CONFIGURATION, IDP, PAGES, PARTICIPANT, failure_of
from participants.models import AttemptOutcome, LoginAttempt
from tests.factories import make_member
from tests.participants.login.sso_flow import (
    TOKEN_URL,
    Started,
    callback,
    callback_path,
    idp_answers,
    login_start,
    make_sso_campaign,
    mock,
)

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
    assert attempt.failure_class == PARTICIPANT
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


# (step, code, temporary, the page's kind, the class), as the failure catalogue says.
CATALOGUE = [
    ("token", "invalid_client", False, "idp_configuration", CONFIGURATION),
    ("id_token", "id_token_wrong_audience", False, "id_token_invalid", CONFIGURATION),
    ("mapping", "required_missing", False, "mapping_incomplete", CONFIGURATION),
    ("token", "integration_unusable", False, "integration_unavailable", CONFIGURATION),
    ("profile", "subject_missing", False, "profile_failed", CONFIGURATION),
    ("userinfo", "userinfo_invalid_json", False, "profile_failed", CONFIGURATION),
    ("userinfo", "userinfo_failed", True, "profile_failed", IDP),  # the endpoint answered 5xx
    ("userinfo", "userinfo_timeout", True, "profile_failed", IDP),
    # A profile endpoint's failure is a profile failure, whatever its code says.
    ("userinfo", "invalid_request", False, "profile_failed", CONFIGURATION),
    ("token", "token_http", True, "idp_unavailable", IDP),
    ("token", "token_http", False, "idp_configuration", CONFIGURATION),
    ("token", "token_timeout", True, "idp_timeout", IDP),
    ("token", "circuit_open", False, "idp_unavailable", IDP),
    ("token", "idp_busy", False, "idp_unavailable", IDP),
    ("id_token", "jwks_unavailable", False, "idp_unavailable", IDP),
    ("id_token", "id_token_nonce_mismatch", False, "id_token_invalid", PARTICIPANT),  # injected
    ("access_token", "access_token_wrong_type", False, "id_token_invalid", CONFIGURATION),
    ("token", "invalid_grant", True, "code_expired", PARTICIPANT),
    ("authorize", "idp_access_denied", False, "access_denied", PARTICIPANT),
    ("authorize", "idp_temporarily_unavailable", False, "idp_unavailable", PARTICIPANT),
    ("state", "state_expired", False, "state_expired", PARTICIPANT),
    ("callback", "embed_session_expired", False, "state_expired", PARTICIPANT),
    ("token", "campaign_unavailable", False, "integration_unavailable", PARTICIPANT),
    # The callback's query string (front channel): anyone can forge it, so never the
    # configuration's, whatever it says.
    ("authorize", "idp_invalid_scope", False, "idp_configuration", PARTICIPANT),
    ("authorize", "idp_invalid_client", False, "idp_configuration", PARTICIPANT),
    ("authorize", "iss_mismatch", False, "issuer_mismatch", PARTICIPANT),
    ("authorize", "iss_missing", False, "issuer_mismatch", PARTICIPANT),
    ("authorize", "code_missing", False, "idp_configuration", PARTICIPANT),
    ("callback", "callback_mismatch", False, "callback_mismatch", PARTICIPANT),
    ("callback", "shared_callback_refused", False, "shared_callback_refused", PARTICIPANT),
    ("callback", "invalid_parameters", False, "repeated_parameters", PARTICIPANT),
]


@pytest.mark.parametrize(("step", "code", "temporary", "kind", "klass"), CATALOGUE)
def test_the_failure_catalogue(step, code, temporary, kind, klass):
    entry = failure_of(step=step, code=code, temporary=temporary)
    assert (entry.kind, entry.klass) == (kind, klass)
    assert kind in PAGES  # every kind has its page


def test_an_idp_error_in_the_query_string_keeps_its_advice_but_not_its_class():
    in_query = failure_of(step="authorize", code="idp_invalid_client")
    from_the_token_endpoint = failure_of(step="token", code="invalid_client")
    assert in_query.advice == from_the_token_endpoint.advice
    assert "client secret" in in_query.advice


@pytest.mark.django_db
def test_the_activity_log_filters_on_the_class_stored_when_the_login_failed(
    client, campaign, admin_user_a
):
    """A real failure at the token endpoint and one in the query string, each listed under
    its class and no other."""
    configuration = fail_with_invalid_client(client, campaign)
    started = login_start(client, campaign)
    cancelled = callback(client, started, code=None, error="invalid_client")
    assert cancelled.status_code == 502
    participant = LoginAttempt.objects.order_by("-id").first()
    assert (configuration.failure_class, participant.failure_class) == (
        CONFIGURATION,
        PARTICIPANT,
    )
    admin = client_for(admin_user_a)
    url = reverse("admin:participants_loginattempt_changelist")
    for klass, expected in ((CONFIGURATION, configuration), (PARTICIPANT, participant)):
        listed = admin.get(url, {"failure_class": klass})
        assert listed.context["cl"].result_list[:] == [expected], klass
    assert admin.get(url, {"failure_class": IDP}).context["cl"].result_count == 0
