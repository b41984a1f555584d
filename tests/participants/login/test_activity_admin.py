"""SSO activity admin (read-only, scoped) and the purge command (RF-02)."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from participants.login.failures import failure_of
from participants.models import AttemptOutcome, LoginAttempt
from tests.admin_html import readonly_value
from tests.factories import OAuthIntegrationFactory, make_staff

CHANGELIST = "admin:participants_loginattempt_changelist"


def make_attempt(account, **kwargs):
    integration = kwargs.pop("integration", None) or OAuthIntegrationFactory(account=account)
    defaults = {
        "state_hash": f"{LoginAttempt.objects.count():064d}",
        "browser_hash": "b" * 64,
        "account": account,
        "integration": integration,
        "nonce": "nonce-value-secret",
        "code_verifier": "verifier-value-secret-" + "x" * 30,
        "expires_at": timezone.now() + timedelta(minutes=10),
    }
    defaults.update(kwargs)
    if defaults.get("outcome") == AttemptOutcome.FAILED and "failure_class" not in defaults:
        # A failed login stores its class from the failure catalogue, as the callback does.
        entry = failure_of(
            step=defaults.get("failed_step", ""), code=defaults.get("error_code", "")
        )
        defaults.setdefault("failure_kind", entry.kind)
        defaults["failure_class"] = entry.klass
    return LoginAttempt.objects.create(**defaults)


@pytest.fixture
def attempts(account, other_account):
    mine = make_attempt(
        account,
        outcome=AttemptOutcome.FAILED,
        failed_step="token",
        error_code="invalid_client",
        error_reference="AAAA1111",
        idp_duration_ms=321,
    )
    theirs = make_attempt(other_account, error_reference="BBBB2222")
    return mine, theirs


def test_administrator_sees_only_own_accounts_attempts(client, admin_user_a, attempts):
    client.force_login(admin_user_a)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert "AAAA1111" in response.text and "BBBB2222" not in response.text
    assert "invalid_client" in response.text and "321" in response.text


def test_another_accounts_attempt_is_404(client, admin_user_a, attempts):
    client.force_login(admin_user_a)
    url = reverse("admin:participants_loginattempt_change", args=[attempts[1].pk])
    assert client.get(url).status_code in (302, 404)
    assert "BBBB2222" not in client.get(url, follow=True).text


def test_detail_shows_no_credentials_and_is_read_only(client, admin_user_a, attempts):
    client.force_login(admin_user_a)
    url = reverse("admin:participants_loginattempt_change", args=[attempts[0].pk])
    response = client.get(url)
    assert response.status_code == 200
    for secret in ("nonce-value-secret", "verifier-value-secret", "b" * 64, "0" * 64):
        assert secret not in response.text
    assert 'name="_save"' not in response.text
    assert client.post(url, {}).status_code == 403


def test_editor_cannot_see_sso_activity(client, editor_a, attempts):
    client.force_login(editor_a)
    assert client.get(reverse(CHANGELIST)).status_code == 403


@pytest.mark.parametrize("query", ["outcome__exact=failed", "failed_step=token"])
def test_filters_by_outcome_and_step(client, admin_user_a, attempts, account, query):
    make_attempt(account, outcome=AttemptOutcome.SUCCESS, error_reference="CCCC3333")
    client.force_login(admin_user_a)
    response = client.get(reverse(CHANGELIST) + "?" + query)
    assert "AAAA1111" in response.text and "CCCC3333" not in response.text


def test_purge_deletes_old_and_abandoned_attempts(account, settings):
    settings.LOGIN_ATTEMPT_RETENTION_DAYS = 30
    now = timezone.now()
    recent = make_attempt(account, used_at=now, outcome=AttemptOutcome.SUCCESS)
    pending = make_attempt(account)
    old = make_attempt(account, used_at=now, outcome=AttemptOutcome.SUCCESS)
    LoginAttempt.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=31))
    abandoned = make_attempt(account, expires_at=now - timedelta(minutes=1))
    call_command("purge_login_attempts")
    remaining = set(LoginAttempt.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, pending.pk}
    assert old.pk not in remaining and abandoned.pk not in remaining


def test_the_account_sees_test_logins_by_platform_staff_but_not_their_usernames(
    client, admin_user_a, account
):
    staff = make_staff(username="ops-jane")
    by_staff = make_attempt(account, is_test=True, test_user=staff, error_reference="TEST1111")
    by_member = make_attempt(
        account, is_test=True, test_user=admin_user_a, error_reference="TEST2222"
    )

    def shown(attempt):
        url = reverse("admin:participants_loginattempt_change", args=[attempt.pk])
        page = client.get(url).text
        return readonly_value(page, "test_user"), page

    client.force_login(admin_user_a)
    name, page = shown(by_staff)
    assert name == "Platform staff" and "ops-jane" not in page
    assert "ops-jane" not in client.get(reverse(CHANGELIST)).text
    assert shown(by_member)[0] == "admin-a"

    client.force_login(staff)  # platform staff may see who did it
    assert shown(by_staff)[0] == "ops-jane"
    assert shown(by_member)[0] == "admin-a"


# ---------------------------------------------------------------------------- as people read it
def test_the_log_is_called_sso_activity_everywhere(client, admin_user_a, attempts):
    client.force_login(admin_user_a)
    index = client.get(reverse("admin:index")).text
    assert ">SSO activity</a>" in index and "Login attempts" not in index
    page = client.get(reverse(CHANGELIST)).text
    assert "<title>Select login attempt to view | " in page or "SSO activity" in page
    assert "By test login" in page and "By is test" not in page
    assert "Time at the IdP (ms)" in page


def test_an_attempt_whose_time_ran_out_reads_abandoned_not_pending(client, admin_user_a, account):
    now = timezone.now()
    gone = make_attempt(account, expires_at=now - timedelta(minutes=1), error_reference="GONE0001")
    under_way = make_attempt(account, error_reference="WAIT0001")
    client.force_login(admin_user_a)
    page = client.get(reverse(CHANGELIST)).text
    assert "Abandoned (expired)" in page and "In progress" in page
    assert ">Pending<" not in page
    abandoned = client.get(reverse(CHANGELIST), {"outcome__exact": "abandoned"}).text
    assert "GONE0001" in abandoned and "WAIT0001" not in abandoned
    detail = client.get(reverse("admin:participants_loginattempt_change", args=[gone.pk])).text
    assert "Abandoned (expired)" in readonly_value(detail, "outcome_column")
    assert under_way.outcome == AttemptOutcome.PENDING


def test_every_link_in_an_attempts_detail_opens_for_its_administrator(
    client, admin_user_a, account
):
    from tests.factories import CampaignFactory, ParticipantFactory

    attempt = make_attempt(
        account,
        campaign=CampaignFactory(account=account),
        participant=ParticipantFactory(account=account),
        is_test=True,
        test_user=make_staff(username="ops-jane"),
        outcome=AttemptOutcome.SUCCESS,
    )
    client.force_login(admin_user_a)
    page = client.get(reverse("admin:participants_loginattempt_change", args=[attempt.pk])).text
    content = page[page.index('id="content"') :]
    links = set(re.findall(r'href="(/admin/[^"#]+)"', content))
    assert any("/account/" in link for link in links)  # the account, campaign, integration…
    for link in links:
        assert client.get(link).status_code == 200, link


def test_the_list_says_what_went_wrong_in_one_column(client, admin_user_a, account, attempts):
    make_attempt(
        account,
        outcome=AttemptOutcome.SUCCESS,
        warning_code="userinfo_timeout",
        error_reference="CCCC3333",
    )
    make_attempt(account, outcome=AttemptOutcome.SUCCESS, is_test=True)
    client.force_login(admin_user_a)
    page = client.get(reverse(CHANGELIST)).text
    assert "token: <code>invalid_client</code>" in page
    assert "warning: <code>userinfo_timeout</code>" in page
    assert "Success</span> (test login)" in page


def test_the_detail_shows_the_failure_class_stored(client, admin_user_a, attempts):
    client.force_login(admin_user_a)
    url = reverse("admin:participants_loginattempt_change", args=[attempts[0].pk])
    page = client.get(url).text
    assert "Failure class" in page and "Configuration" in page
