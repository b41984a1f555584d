"""The webhook admin: endpoints, one-time secrets, the delivery log, and account scoping."""

import re
from datetime import timedelta

import pytest
import responses
from django.core.cache import cache
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from integrations.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookAuthType,
    WebhookDelivery,
    WebhookEndpoint,
)
from integrations.webhooks.outbox import TEST_EVENTS_PER_MINUTE, webhook_events_record
from integrations.webhooks.tasks import deliver_webhook
from tests.admin_html import readonly_value
from tests.integrations.webhooks.webhook_support import (
    HOOK_URL,
    IMMEDIATE_TASKS,
    make_endpoint,
    participation_data,
)

ADD_URL = reverse("admin:integrations_webhookendpoint_add")
LIST_URL = reverse("admin:integrations_webhookendpoint_changelist")
DELIVERIES_URL = reverse("admin:integrations_webhookdelivery_changelist")


@pytest.fixture(autouse=True)
def _immediate_tasks(settings):
    settings.TASKS = IMMEDIATE_TASKS


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # the test-event counter is per endpoint id, and ids repeat across tests
    yield
    cache.clear()


def _change_url(endpoint):
    return reverse("admin:integrations_webhookendpoint_change", args=[endpoint.pk])


def _form(**overrides):
    data = {
        "is_active": "on",
        "description": "CRM",
        "url": HOOK_URL,
        "events": ["participation.created", "profile.updated"],
        "auth_type": "none",
        "auth_username": "",
        "auth_header_name": "",
        "auth_secret": "",
    }
    data.update(overrides)
    return data


def _delivery(endpoint, **fields):
    with transaction.atomic():
        deliveries = webhook_events_record(
            account=endpoint.account, participation=participation_data(changed=[])
        )
    delivery = [d for d in deliveries if d.endpoint_id == endpoint.pk][0]
    if fields:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
        delivery.refresh_from_db()
    return delivery


# ---------------------------------------------------------------------------- endpoints
@pytest.mark.django_db
def test_administrator_creates_an_endpoint_and_sees_its_secret_once(client, admin_user_a):
    client.force_login(admin_user_a)

    response = client.post(ADD_URL, _form())

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.account == admin_user_a.memberships.get().account
    assert endpoint.events == ["participation.created", "profile.updated"]
    shown = re.search(r"whsec_[A-Za-z0-9+/=]+", response.content.decode()).group()
    assert shown == endpoint.secret
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_webhookendpoint")
        (stored,) = cursor.fetchone()
    assert stored.startswith("gAAAAA") and "whsec_" not in stored
    page = client.get(_change_url(endpoint)).content.decode()
    assert "whsec_" not in page and "gAAAAA" not in page
    assert "Rotate secret" in page and "Send test event" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/h",
        "https://127.0.0.1/h",
        "https://10.0.0.5/h",
        "https://0x7f000001/",
    ],
)
def test_unsafe_receiving_urls_are_refused_at_save(client, admin_user_a, settings, url):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = False
    client.force_login(admin_user_a)

    response = client.post(ADD_URL, _form(url=url))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_extra_auth_secret_is_write_only_encrypted_and_kept_when_blank(
    client, admin_user_a, account
):
    client.force_login(admin_user_a)
    endpoint = make_endpoint(account)
    form = _form(auth_type="bearer", auth_secret="tok-very-secret")
    assert client.post(_change_url(endpoint), form).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.auth_secret == "tok-very-secret"

    page = client.get(_change_url(endpoint)).content.decode()
    assert "tok-very-secret" not in page and "gAAAAA" not in page

    assert client.post(_change_url(endpoint), _form(auth_type="bearer")).status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.auth_secret == "tok-very-secret"


@pytest.mark.django_db
def test_switching_auth_type_needs_a_new_secret_and_reserved_headers_are_refused(
    client, admin_user_a, account
):
    client.force_login(admin_user_a)
    endpoint = make_endpoint(account, auth_type=WebhookAuthType.BEARER, auth_secret="tok")

    response = client.post(
        _change_url(endpoint), _form(auth_type="header", auth_header_name="webhook-signature")
    )

    errors = response.context["adminform"].form.errors
    assert "auth_secret" in errors and "auth_header_name" in errors


@pytest.mark.django_db
def test_rotating_the_secret_shows_the_new_one_once_and_keeps_the_old_one_signing(
    client, admin_user_a, account
):
    client.force_login(admin_user_a)
    endpoint = make_endpoint(account)
    old = endpoint.secret
    url = reverse("admin:integrations_webhookendpoint_rotate_secret", args=[endpoint.pk])

    assert client.get(url).status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.secret == old  # a GET changes nothing

    response = client.post(url)
    endpoint.refresh_from_db()
    assert endpoint.secret != old
    assert endpoint.secret in response.content.decode()
    assert endpoint.previous_secret == old
    assert endpoint.previous_secret_expires_at > timezone.now() + timedelta(hours=23)
    assert endpoint.secret not in client.get(_change_url(endpoint)).content.decode()


@pytest.mark.django_db
def test_send_test_event_is_rate_limited(client, admin_user_a, account):
    client.force_login(admin_user_a)
    endpoint = make_endpoint(account)
    url = reverse("admin:integrations_webhookendpoint_send_test", args=[endpoint.pk])

    for _ in range(TEST_EVENTS_PER_MINUTE + 3):
        response = client.post(url, follow=True)

    assert "At most 5 test events per minute" in response.content.decode()
    tests = WebhookDelivery.objects.filter(endpoint=endpoint, is_test=True)
    assert tests.count() == TEST_EVENTS_PER_MINUTE
    assert {d.event_type for d in tests} == {"webhook.test"}
    assert client.get(url).status_code == 405


@pytest.mark.django_db
def test_endpoint_list_shows_pending_and_failed_counts_and_disabled_endpoints_loudly(
    client, admin_user_a, account
):
    client.force_login(admin_user_a)
    endpoint = make_endpoint(account)
    _delivery(endpoint)
    _delivery(endpoint)
    _delivery(endpoint, status=DeliveryStatus.FAILED)
    endpoint.disabled_at = timezone.now()
    endpoint.disabled_reason = "The receiver answered 410 Gone."
    endpoint.save()

    response = client.get(LIST_URL)

    row = response.context["cl"].result_list.get()
    assert (row.pending_count, row.failed_count) == (2, 1)
    page = response.content.decode()
    assert "Deliveries to https://hooks.example.com/campaign-sso are stopped" in page
    change_page = client.get(_change_url(endpoint)).content.decode()
    assert "errornote" in change_page and "Enable it again" in change_page

    client.post(reverse("admin:integrations_webhookendpoint_enable", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None


@pytest.mark.django_db
def test_editors_cannot_open_webhooks(client, editor_a, account):
    endpoint = make_endpoint(account)
    client.force_login(editor_a)
    assert client.get(LIST_URL).status_code == 403
    assert client.get(_change_url(endpoint)).status_code == 403
    assert client.get(DELIVERIES_URL).status_code == 403


# ---------------------------------------------------------------------------- delivery log
@pytest.mark.django_db
def test_delivery_page_shows_payload_and_attempts_escaped(client, admin_user_a, account):
    client.force_login(admin_user_a)
    endpoint = make_endpoint(account)
    with transaction.atomic():
        (delivery,) = webhook_events_record(
            account=account,
            participation=participation_data(
                changed=[], values={"firstname": "<script>alert(1)</script>"}
            ),
        )[:1]
    WebhookAttempt.objects.create(
        delivery=delivery,
        started_at=timezone.now(),
        status_code=500,
        response_body="<img src=x onerror=alert(2)>",
    )
    page = client.get(
        reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk])
    ).content.decode()

    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert delivery.event_id in page and endpoint.url in page


@pytest.mark.django_db
def test_delivery_log_filters_by_endpoint_status_and_event(client, admin_user_a, account):
    client.force_login(admin_user_a)
    first, second = make_endpoint(account), make_endpoint(account, url="https://b.example.com/h")
    mine = _delivery(first, status=DeliveryStatus.FAILED)

    def listed(**params):
        response = client.get(DELIVERIES_URL, params)
        return {d.pk for d in response.context["cl"].result_list}

    assert mine.pk in listed(endpoint=first.pk, status="failed")
    assert listed(endpoint=second.pk, status="failed") == set()
    assert mine.pk in listed(endpoint=first.pk, event_type="participation.created")
    assert listed(endpoint=first.pk, event_type="profile.updated") == set()


@pytest.mark.django_db
def test_resend_puts_a_failed_delivery_back_with_the_same_id(client, admin_user_a, account):
    client.force_login(admin_user_a)
    endpoint = make_endpoint(account)
    delivery = _delivery(endpoint, status=DeliveryStatus.FAILED, attempt_count=10)

    client.post(DELIVERIES_URL, {"action": "resend_deliveries", "_selected_action": [delivery.pk]})

    resent = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (resent.status, resent.attempt_count, resent.event_id) == (
        DeliveryStatus.PENDING,
        0,
        delivery.event_id,
    )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    client.post(reverse("admin:integrations_webhookdelivery_resend", args=[delivery.pk]))
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING


@responses.activate
@pytest.mark.django_db
def test_a_huge_script_answer_is_stored_capped_and_shown_escaped(client, admin_user_a, account):
    client.force_login(admin_user_a)
    endpoint = make_endpoint(account)
    responses.post(HOOK_URL, status=500, body=b"<script>alert(3)</script>" + b"y" * 5_000_000)
    delivery = _delivery(endpoint)
    deliver_webhook.call(delivery.pk)

    (attempt,) = WebhookAttempt.objects.filter(delivery=delivery)
    assert len(attempt.response_body) == 2048
    page = client.get(
        reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk])
    ).content.decode()
    assert "<script>alert(3)" not in page
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page
    assert "y" * 2100 not in page  # only the first 2 KB is shown


@responses.activate
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "failing_for", "reason"),
    [
        (410, timedelta(0), "410 Gone"),
        (500, timedelta(days=5, seconds=1), "No successful delivery for 5 days"),
    ],
)
def test_an_endpoint_disabled_by_deliveries_is_shown_on_its_page_and_the_list(
    client, admin_user_a, account, status, failing_for, reason
):
    client.force_login(admin_user_a)
    endpoint = make_endpoint(account)
    if failing_for:
        endpoint.failing_since = timezone.now() - failing_for
        endpoint.save()
    responses.post(HOOK_URL, status=status)

    deliver_webhook.call(_delivery(endpoint).pk)

    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None
    listing = client.get(LIST_URL).content.decode()
    assert f"Deliveries to {HOOK_URL} are stopped" in listing and reason in listing
    assert 'class="error"' in listing  # the admin's error message style
    page = client.get(_change_url(endpoint)).content.decode()
    assert "errornote" in page and "Deliveries to this URL are stopped" in page
    assert reason in page and "Enable it again" in page


# ---------------------------------------------------------------------------- scoping
@pytest.mark.django_db
def test_an_administrator_of_b_never_reaches_a_s_webhooks(client, admin_user_b, account):
    endpoint = make_endpoint(account)
    delivery = _delivery(endpoint, status=DeliveryStatus.FAILED)
    client.force_login(admin_user_b)

    assert list(client.get(LIST_URL).context["cl"].result_list) == []
    assert list(client.get(DELIVERIES_URL).context["cl"].result_list) == []
    assert (
        list(client.get(DELIVERIES_URL, {"endpoint": endpoint.pk}).context["cl"].result_list) == []
    )
    filter_choices = client.get(DELIVERIES_URL).content.decode()
    assert endpoint.url not in filter_choices

    # Guessed URLs.
    assert client.get(_change_url(endpoint)).status_code == 302  # "doesn't exist" → index
    change_delivery = reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk])
    assert client.get(change_delivery).status_code == 302
    for name in ("rotate_secret", "send_test", "enable"):
        url = reverse(f"admin:integrations_webhookendpoint_{name}", args=[endpoint.pk])
        assert client.post(url).status_code == 404
    resend = reverse("admin:integrations_webhookdelivery_resend", args=[delivery.pk])
    assert client.post(resend).status_code == 404

    # Posted ids.
    client.post(DELIVERIES_URL, {"action": "resend_deliveries", "_selected_action": [delivery.pk]})
    client.post(_change_url(endpoint), _form(url="https://evil.example.com/"))

    endpoint.refresh_from_db()
    assert endpoint.url == HOOK_URL
    assert WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.FAILED
    assert not WebhookDelivery.objects.filter(is_test=True).exists()


@pytest.mark.django_db
def test_staff_see_every_account_s_webhooks(client, staff_user, account, other_account):
    make_endpoint(account)
    make_endpoint(other_account)
    client.force_login(staff_user)
    assert len(client.get(LIST_URL).context["cl"].result_list) == 2


# ---------------------------------------------------------------------------- as people read it
@pytest.mark.django_db
def test_after_a_resend_the_delivery_counts_every_attempt_it_lists(client, admin_user_a, account):
    endpoint = make_endpoint(account)
    delivery = _delivery(endpoint, status=DeliveryStatus.DELIVERED, attempt_count=1)
    now = timezone.now()
    for minutes in (2, 1):
        WebhookAttempt.objects.create(
            delivery=delivery,
            started_at=now - timedelta(minutes=minutes),
            status_code=204,
            duration_ms=12,
        )
    client.force_login(admin_user_a)
    change = reverse("admin:integrations_webhookdelivery_change", args=[delivery.pk])
    page = client.get(change).text
    assert readonly_value(page, "attempts_made") == "2 (1 since it was resent)"
    # Delivered: no "Next attempt" any more, and the id as the receiver sees it.
    assert "field-next_attempt" not in page and "Next attempt" not in page
    assert "<code>msg_" in readonly_value(page, "event_id_shown")
    assert "12\u00a0ms" in page

    client.post(reverse("admin:integrations_webhookdelivery_resend", args=[delivery.pk]))
    resent = client.get(change)
    messages = re.search(r'<ul class="messagelist">(.*?)</ul>', resent.text, re.S).group(1)
    assert f"{delivery.event_id} will be sent again" in messages  # "msg_…", never "Msg_…"
    assert "Next attempt" in resent.text


@pytest.mark.django_db
def test_the_endpoint_form_reads_in_sentence_case_and_hides_unused_auth_fields(
    client, admin_user_a, account
):
    client.force_login(admin_user_a)
    page = client.get(ADD_URL).text
    assert ">Receiving URL:</label>" in page
    assert ">Password, token or header value:</label>" in page
    assert "integrations/webhook_auth_fields.js" in page
