"""What the admin shows of participants' sign-ins: the integration's alert, and the last 24 hours
in counts above the SSO activity log. Each user sees their own accounts' only."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.permissions import Capability
from integrations.models import SignInAlert
from integrations.oauth.alerts import sign_in_alert_raise
from participants.login.failures import advice_for
from participants.models import AttemptOutcome
from tests.factories import OAuthIntegrationFactory
from tests.participants.login.test_activity_admin import make_attempt

ACTIVITY = reverse("admin:participants_loginattempt_changelist")
INTEGRATIONS = reverse("admin:integrations_oauthintegration_changelist")


def change_url(integration):
    return reverse("admin:integrations_oauthintegration_change", args=[integration.pk])


def text_of(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.text))


@pytest.fixture
def broken(account):
    """Account A's integration, whose logins fail with invalid_client."""
    integration = OAuthIntegrationFactory(account=account, display_name="Broken ID")
    for reference in ("REF00001", "REF00002"):
        sign_in_alert_raise(
            integration_id=integration.pk,
            error_code="invalid_client",
            reference=reference,
            advice=advice_for("invalid_client"),
        )
    return integration


@pytest.fixture
def fine(other_account):
    return OAuthIntegrationFactory(account=other_account, display_name="Fine ID")


def test_the_integration_page_shows_the_alert_and_what_to_check(client, admin_user_a, broken):
    client.force_login(admin_user_a)
    page = text_of(client.get(change_url(broken)))
    assert "Participants cannot log in with Broken ID: 2 logins failed with “invalid_client”" in (
        page
    )
    assert "Check the client ID, the client secret and the client authentication method" in page
    assert "error reference REF00002" in page
    assert f'href="{ACTIVITY}?integration__id__exact={broken.pk}"' in page


def test_the_integration_list_marks_the_failing_one(client, admin_user_a, broken, account):
    OAuthIntegrationFactory(account=account, display_name="Working ID")
    client.force_login(admin_user_a)
    page = text_of(client.get(INTEGRATIONS))
    assert page.count("⚠ Failing: invalid_client") == 1
    assert "No problem recorded" in page
    assert "Participants cannot log in with Broken ID" in page


def test_a_cleared_alert_is_no_longer_shown(client, admin_user_a, broken):
    SignInAlert.objects.update(cleared_at=timezone.now())
    client.force_login(admin_user_a)
    page = text_of(client.get(change_url(broken)))
    assert "No problem recorded" in page and "Participants cannot log in" not in page


def test_another_accounts_alert_stays_out_of_sight(client, admin_user_b, broken, fine):
    client.force_login(admin_user_b)
    page = text_of(client.get(INTEGRATIONS))
    assert "Fine ID" in page
    assert "Broken ID" not in page and "invalid_client" not in page
    assert client.get(change_url(broken)).status_code == 404
    activity = text_of(client.get(ACTIVITY))
    assert "Broken ID" not in activity


def test_an_editor_sees_no_integration_page(client, editor_a, broken):
    client.force_login(editor_a)
    assert client.get(change_url(broken)).status_code == 404


# ---------------------------------------------------------------------------- counts
@pytest.fixture
def last_day(account, other_account, broken, fine):
    old = timezone.now() - timedelta(hours=25)
    for _ in range(3):
        make_attempt(account, integration=broken, outcome=AttemptOutcome.SUCCESS)
    make_attempt(
        account, integration=broken, outcome=AttemptOutcome.SUCCESS, warning_code="userinfo_failed"
    )
    for _ in range(2):
        make_attempt(
            account,
            integration=broken,
            outcome=AttemptOutcome.FAILED,
            failure_kind="idp_configuration",
            error_code="invalid_client",
        )
    make_attempt(
        account,
        integration=broken,
        outcome=AttemptOutcome.FAILED,
        failure_kind="idp_timeout",
        error_code="token_timeout",
    )
    make_attempt(
        account,
        integration=broken,
        outcome=AttemptOutcome.FAILED,
        failure_kind="access_denied",
        error_code="idp_access_denied",
    )
    # Not counted: still at the IdP, a test login, older than a day, another account's.
    make_attempt(account, integration=broken)
    make_attempt(account, integration=broken, outcome=AttemptOutcome.SUCCESS, is_test=True)
    stale = make_attempt(account, integration=broken, outcome=AttemptOutcome.SUCCESS)
    type(stale).objects.filter(pk=stale.pk).update(created_at=old)
    make_attempt(other_account, integration=fine, outcome=AttemptOutcome.SUCCESS)


def summary_row(page: str, name: str) -> list[str]:
    row = re.search(rf"<tr> <th scope=\"row\"><a [^>]*>{name}</a></th>(.*?)</tr>", page)
    assert row, page
    return re.findall(r"<td>(?:<a [^>]*>)?(?:<strong[^>]*>)?(\d+)", row.group(1))


def test_the_activity_log_counts_the_last_day_by_class(client, admin_user_a, last_day):
    client.force_login(admin_user_a)
    page = text_of(client.get(ACTIVITY))
    # worked, of which without userinfo, configuration, IdP, participant's side
    assert summary_row(page, "Broken ID") == ["4", "1", "2", "1", "1"]
    assert "<code>invalid_client</code>: 2" in page
    assert "client secret" in page
    assert "Fine ID" not in page


def test_the_other_account_sees_its_own_counts_only(client, admin_user_b, last_day):
    client.force_login(admin_user_b)
    page = text_of(client.get(ACTIVITY))
    assert summary_row(page, "Fine ID") == ["1", "0", "0", "0", "0"]
    assert "Broken ID" not in page


def test_the_link_from_the_integration_filters_the_log(client, admin_user_a, account, last_day):
    other = OAuthIntegrationFactory(account=account, display_name="Other ID")
    make_attempt(account, integration=other, error_reference="OTHER001")
    client.force_login(admin_user_a)
    broken = SignInAlert.objects.get().integration
    response = client.get(f"{ACTIVITY}?integration__id__exact={broken.pk}")
    assert response.status_code == 200
    assert "OTHER001" not in response.text
    assert "OTHER001" in client.get(ACTIVITY).text


def _page_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(ACTIVITY).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_the_counts_cost_one_query_and_rows_cost_none(client, admin_user_a, account, last_day):
    client.force_login(admin_user_a)
    client.get(ACTIVITY)
    before = _page_queries(client)
    assert len([sql for sql in before if "GROUP BY" in sql]) == 1
    # "May this user do X anywhere?" once per capability, not once per model of the admin's
    # sidebar: that was 27 of this page's 38 queries (and of every admin page's).
    membership_checks = [
        sql for sql in before if sql.startswith('SELECT DISTINCT 1 AS "a" FROM "accounts_account"')
    ]
    assert len(membership_checks) <= len(Capability)
    # Twice the attempts, in every class and on another integration: the same queries. (The
    # page's other queries depend on what earlier requests left in Django's own caches.)
    other = OAuthIntegrationFactory(account=account, display_name="Other ID")
    for outcome, kind, code in [
        (AttemptOutcome.SUCCESS, "", ""),
        (AttemptOutcome.FAILED, "idp_configuration", "invalid_client"),
        (AttemptOutcome.FAILED, "idp_timeout", "token_timeout"),
        (AttemptOutcome.FAILED, "access_denied", "idp_access_denied"),
    ] * 3:
        make_attempt(
            account, integration=other, outcome=outcome, failure_kind=kind, error_code=code
        )
    after = _page_queries(client)
    assert len(after) == len(before), "\n".join(after)


def test_no_logins_says_so(client, admin_user_a, broken):
    client.force_login(admin_user_a)
    assert "No logins in the last 24 hours." in text_of(client.get(ACTIVITY))


# ---------------------------------------------------------------------------- admin home page
INDEX = reverse("admin:index")


def test_the_admin_home_page_shows_the_alert_to_who_can_fix_it(
    client, admin_user_a, staff_user, broken
):
    for user in (admin_user_a, staff_user):
        client.force_login(user)
        page = text_of(client.get(INDEX))
        assert "Participants cannot log in with" in page
        assert f'<a href="{change_url(broken)}">Broken ID</a> (Account A)' in page
        assert "client secret" in page


def test_the_admin_home_page_keeps_it_from_everyone_else(
    client, editor_a, admin_user_b, broken, fine
):
    for user in (editor_a, admin_user_b):
        client.force_login(user)
        response = client.get(INDEX)
        assert response.status_code == 200
        assert "Broken ID" not in response.text and "Participants cannot log in" not in (
            response.text
        )


def test_a_cleared_alert_leaves_the_home_page(client, admin_user_a, broken):
    SignInAlert.objects.update(cleared_at=timezone.now())
    client.force_login(admin_user_a)
    assert "Participants cannot log in" not in client.get(INDEX).text


def test_each_class_count_links_to_its_rows(client, admin_user_a, last_day):
    client.force_login(admin_user_a)
    broken = SignInAlert.objects.get().integration
    page = client.get(ACTIVITY).text
    link = f"?integration__id__exact={broken.pk}&amp;failure_class=configuration"
    assert link in page
    listed = client.get(ACTIVITY, {"integration__id__exact": broken.pk, "failure_class": "idp"})
    assert listed.status_code == 200
    results = re.search(r'<table id="result_list">.*?</table>', listed.text, re.S).group(0)
    assert "token_timeout" in results
    assert "invalid_client" not in results and "idp_access_denied" not in results


@pytest.mark.parametrize("value", ["bogus", "", "configuration'--"])
def test_an_unknown_failure_class_lists_every_attempt(client, admin_user_a, last_day, value):
    client.force_login(admin_user_a)
    everything = client.get(ACTIVITY)
    response = client.get(ACTIVITY, {"failure_class": value})
    assert response.status_code == 200
    results = re.search(r'<table id="result_list">.*?</table>', response.text, re.S).group(0)
    expected = re.search(r'<table id="result_list">.*?</table>', everything.text, re.S).group(0)
    assert results.count("<tr") == expected.count("<tr")
