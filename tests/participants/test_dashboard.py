"""The admin's home page (the dashboard of one account) and a campaign's statistics: what each
role sees, the account line, the numbers, and a bounded number of queries however many
participations there are (10 or 1,000, on SQLite and on PostgreSQL alike)."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.models import CampaignStatus
from integrations.models import DeliveryStatus, SignInAlert, WebhookDelivery, WebhookEndpoint
from participants.login.failures import failure_of
from participants.models import AttemptOutcome, LoginAttempt, Participation
from tests.admin_html import text_of
from tests.factories import (
    CampaignFactory,
    CampaignFieldFactory,
    OAuthIntegrationFactory,
)

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


def statistics_url(campaign, **query):
    url = reverse("admin:participants_campaign_statistics", args=[campaign.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def attempt(account, campaign=None, *, created_at=None, **kwargs):
    defaults = {
        "state_hash": f"{LoginAttempt.objects.count():064d}",
        "browser_hash": "b" * 64,
        "account": account,
        "campaign": campaign,
        "expires_at": timezone.now() + timedelta(minutes=10),
    }
    fields = {**defaults, **kwargs}
    if fields.get("outcome") == AttemptOutcome.FAILED:
        # A failed login stores its class from the failure catalogue, as the callback does.
        entry = failure_of(step=fields.get("failed_step", ""), code=fields.get("error_code", ""))
        fields.setdefault("failure_class", entry.klass)
    row = LoginAttempt.objects.create(**fields)
    if created_at is not None:
        LoginAttempt.objects.filter(pk=row.pk).update(created_at=created_at)
    return row


def participations(campaign, count, *, prefilled=None, changed=(), days_ago=0):
    """`count` participations at once (bulk): `prefilled` {variable: IdP value}."""
    when = timezone.now() - timedelta(days=days_ago)
    start = Participation.objects.count()
    Participation.objects.bulk_create(
        [
            Participation(
                campaign=campaign,
                values={"firstname": "Ada", "city": "Namur"},
                prefilled=dict(prefilled or {}),
                changed=list(changed),
                language="en",
                submission_token=f"bulk-{start + n:040d}",
            )
            for n in range(count)
        ],
        batch_size=500,
    )
    if days_ago:
        ids = list(Participation.objects.order_by("-pk").values_list("pk", flat=True)[:count])
        Participation.objects.filter(pk__in=ids).update(submitted_at=when)


@pytest.fixture
def campaign_a(account):
    campaign = CampaignFactory(account=account, title="Bike contest", slug="bike")
    for position, variable in enumerate(["firstname", "city", "phone"]):
        CampaignFieldFactory(
            campaign=campaign, variable=variable, label_en=variable.title(), position=position
        )
    return campaign


@pytest.fixture
def campaign_b(other_account):
    return CampaignFactory(account=other_account, title="B's secret contest", slug="b-secret")


# ---------------------------------------------------------------------------- the dashboard
def test_the_dashboard_counts_the_accounts_live_campaigns_and_last_30_days(
    client, admin_user_a, campaign_a, campaign_b
):
    CampaignFactory(account=campaign_a.account, title="Draft one", status=CampaignStatus.DRAFT)
    participations(campaign_a, 4)
    participations(campaign_a, 2, days_ago=45)  # before the period
    participations(campaign_b, 7)  # another account's
    client.force_login(admin_user_a)
    page = client.get(INDEX).text
    summary = text_of(page, "#dashboard-summary")
    assert "1 live campaign" in summary
    assert "4 participations" in summary
    campaigns = text_of(page, "#dashboard-campaigns")
    assert "Bike contest 4 Statistics" in campaigns
    assert "Draft one" not in campaigns and "secret" not in page


def test_an_editor_sees_campaigns_but_not_logins_alerts_or_webhooks(client, editor_a, campaign_a):
    client.force_login(editor_a)
    page = client.get(INDEX).text
    assert 'id="dashboard-campaigns"' in page and 'id="dashboard-participations"' in page
    for panel in ("dashboard-logins", "dashboard-alerts", "dashboard-webhooks"):
        assert f'id="{panel}"' not in page


def test_the_administrator_sees_login_health_with_the_top_failure_reasons(
    client, admin_user_a, account, campaign_a
):
    now = timezone.now()
    for _ in range(6):
        attempt(account, campaign_a, outcome=AttemptOutcome.SUCCESS)
    for _ in range(2):
        attempt(
            account,
            campaign_a,
            outcome=AttemptOutcome.FAILED,
            failed_step="token",
            error_code="invalid_client",
            failure_kind="idp_configuration",
        )
    attempt(
        account,
        campaign_a,
        outcome=AttemptOutcome.FAILED,
        failed_step="callback",
        error_code="idp_access_denied",
        failure_kind="access_denied",
    )
    attempt(account, campaign_a, expires_at=now - timedelta(minutes=1))  # abandoned
    attempt(account, campaign_a)  # still on its way: not counted yet
    attempt(account, campaign_a, outcome=AttemptOutcome.FAILED, is_test=True)  # a test login
    client.force_login(admin_user_a)
    logins = text_of(client.get(INDEX).text, "#dashboard-logins")
    assert "60 % worked: 6 of 10 started, 3 failed, 1 abandoned" in logins
    assert logins.index("invalid_client") < logins.index("idp_access_denied")
    assert "Configuration" in logins and "Participant's side" in logins


def test_open_sign_in_alerts_and_webhook_health_show_to_the_administrator(
    client, admin_user_a, account
):
    integration = OAuthIntegrationFactory(account=account, display_name="Broken ID")
    now = timezone.now()
    SignInAlert.objects.create(
        integration=integration, error_code="invalid_client", failures=3, first_at=now, last_at=now
    )
    endpoint = WebhookEndpoint.objects.create(
        account=account, url="https://hooks.example.com/in", events=["participation.created"]
    )
    for index, status in enumerate(
        [DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.DELIVERED]
    ):
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            event_id=f"msg_{index}",
            event_type="participation.created",
            payload={},
            status=status,
        )
    client.force_login(admin_user_a)
    page = client.get(INDEX).text
    assert "1 open sign-in alert" in text_of(page, "#dashboard-summary")
    assert "Broken ID: 3 failed logins with invalid_client" in text_of(page, "#dashboard-alerts")
    webhooks = text_of(page, "#dashboard-webhooks")
    assert "https://hooks.example.com/in Working 1 1 1" in webhooks


def test_an_administrator_cannot_open_another_accounts_dashboard(
    client, admin_user_a, campaign_a, campaign_b, other_account
):
    participations(campaign_b, 3)
    client.force_login(admin_user_a)
    page = client.get(INDEX, {"account": other_account.pk}).text
    assert "B's secret contest" not in page and other_account.name not in page
    assert "Bike contest" in text_of(page, "#dashboard-campaigns")


def test_platform_staff_pick_the_account(client, staff_user, campaign_a, campaign_b):
    client.force_login(staff_user)
    first = client.get(INDEX).text
    assert 'name="account"' in first  # a picker: staff see every account
    page = client.get(INDEX, {"account": campaign_b.account.pk}).text
    assert "B's secret contest" in text_of(page, "#dashboard-campaigns")
    assert "Bike contest" not in text_of(page, "#dashboard-campaigns")


def test_the_participations_chart_draws_a_bar_per_day_with_its_table(
    client, admin_user_a, campaign_a
):
    participations(campaign_a, 3)
    participations(campaign_a, 2, days_ago=2)
    client.force_login(admin_user_a)
    panel = re.search(
        r'<section[^>]*id="dashboard-participations".*?</section>', client.get(INDEX).text, re.S
    ).group(0)
    assert len(re.findall(r'<rect class="bar', panel)) == 30
    assert "<title" in panel and 'role="img"' in panel  # named for screen readers
    table = re.findall(r"<tr><th scope=\"row\">(.*?)</th><td>(.*?)</td></tr>", panel)
    assert len(table) == 30
    assert [count for _day, count in table[:3]] == ["3", "0", "2"]  # newest first


# ---------------------------------------------------------------------------- statistics
def test_statistics_show_totals_and_prefilled_share(client, editor_a, campaign_a):
    participations(campaign_a, 3, prefilled={"firstname": "Ada", "city": "Liège"})
    participations(campaign_a, 1, prefilled={"firstname": "Ada", "city": "Liège"}, changed=["city"])
    participations(campaign_a, 4)  # typed by hand
    client.force_login(editor_a)
    page = client.get(statistics_url(campaign_a)).text
    totals = text_of(page, "#statistics-totals")
    assert "8 participations" in totals
    assert "50 % prefilled by a login (4)" in totals
    assert "25 % of prefilled forms corrected (1)" in totals


def test_statistics_tell_per_field_how_often_the_idp_value_was_corrected(
    client, editor_a, campaign_a
):
    idp = {"firstname": "Ada", "city": "Liège"}
    participations(campaign_a, 6, prefilled=idp)
    participations(campaign_a, 3, prefilled=idp, changed=["city"])
    participations(campaign_a, 1, prefilled=idp, changed=["city", "phone"])  # phone added
    client.force_login(editor_a)
    rows = text_of(client.get(statistics_url(campaign_a)).text, "#field-corrections")
    assert "Firstname firstname 10 0 0 % 0" in rows
    assert "City city 10 4 40 % Often corrected 0" in rows
    assert "Phone phone 0 0 never prefilled 1" in rows


def test_statistics_per_day_count_logins_and_prefilled_share(client, editor_a, account, campaign_a):
    participations(campaign_a, 1, prefilled={"firstname": "Ada"})
    participations(campaign_a, 3)
    attempt(account, campaign_a, outcome=AttemptOutcome.SUCCESS)
    attempt(account, campaign_a, outcome=AttemptOutcome.FAILED, error_code="token_timeout")
    client.force_login(editor_a)
    page = client.get(statistics_url(campaign_a, days=7)).text
    logins = re.search(r'id="chart-sso-logins-that-worked".*?</figure>', page, re.S).group(0)
    assert len(re.findall(r'<rect class="bar', logins)) == 7
    assert "<td>1 (1 failed)</td>" in logins
    share = re.search(r'id="chart-share-of-forms-prefilled.*?</figure>', page, re.S).group(0)
    assert "<td>25\u00a0% (1 of 4)</td>" in share


def test_another_accounts_campaign_statistics_are_404(client, admin_user_a, campaign_b):
    participations(campaign_b, 2)
    client.force_login(admin_user_a)
    response = client.get(statistics_url(campaign_b))
    assert response.status_code == 404
    assert "secret" not in response.text


def test_the_campaign_list_links_its_statistics(client, editor_a, campaign_a):
    client.force_login(editor_a)
    page = client.get(reverse("admin:campaigns_campaign_changelist")).text
    assert statistics_url(campaign_a) in page


# ---------------------------------------------------------------------------- bounded queries
@pytest.mark.parametrize("count", [10, 1000])
def test_the_dashboard_runs_a_bounded_number_of_queries(
    client, admin_user_a, account, campaign_a, count, django_assert_max_num_queries
):
    participations(campaign_a, count, prefilled={"city": "Liège"}, changed=["city"])
    for _ in range(3):
        attempt(account, campaign_a, outcome=AttemptOutcome.SUCCESS)
    client.force_login(admin_user_a)
    client.get(INDEX)  # warm the per-process caches (content types, sessions)
    with django_assert_max_num_queries(26):
        response = client.get(INDEX)
    assert f"{count} participations" in text_of(response.text, "#dashboard-summary")


@pytest.mark.parametrize("count", [10, 1000])
def test_the_statistics_run_a_bounded_number_of_queries(
    client, editor_a, campaign_a, count, django_assert_max_num_queries
):
    participations(campaign_a, count, prefilled={"city": "Liège"}, changed=["city"])
    client.force_login(editor_a)
    client.get(statistics_url(campaign_a))
    with django_assert_max_num_queries(22):
        response = client.get(statistics_url(campaign_a))
    assert f"{count} participations" in text_of(response.text, "#statistics-totals")
    assert f"City city {count} {count} 100 %" in text_of(response.text, "#field-corrections")
