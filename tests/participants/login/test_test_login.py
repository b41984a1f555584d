"""Test login: an administrator runs the real flow and sees the redacted profile."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from integrations.models import OAuthIntegration
from participants.models import LoginAttempt, Participant
from tests.idp_stub import IdPStub
from tests.participants.login.sso_flow import (
    USERINFO_URL,
    Started,
    callback,
    idp_answers,
    make_sso_campaign,
    mock,
)


@pytest.fixture
def integration(account):
    _campaign, integration = make_sso_campaign(account, profile_endpoint=USERINFO_URL)
    return integration


def start_test_login(client, integration):
    response = client.get(reverse("participants:test_login_start", args=[integration.pk]))
    assert response.status_code == 302
    params = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
    return Started(response=response, params=params)


def test_administrator_runs_a_test_login_and_sees_the_redacted_profile(
    client, admin_user_a, integration
):
    client.force_login(admin_user_a)
    started = start_test_login(client, integration)
    attempt = LoginAttempt.objects.get()
    assert attempt.is_test and attempt.test_user == admin_user_a
    idp = IdPStub()
    with mock() as rsps:
        idp_answers(
            rsps,
            idp,
            started,
            claims={"given_name": "Ada"},
            userinfo={"sub": "user-123", "given_name": "Ada", "family_name": "Lovelace"},
        )
        response = callback(client, started)
    assert response.status_code == 303
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Lovelace" in page.text and "given_name" in page.text
    assert "opaque-access-token" not in page.text
    assert "nonce" in page.text and started.nonce not in page.text
    assert "[redacted]" in page.text
    assert not Participant.objects.exists()
    # An admin page: the way back to the integration, the admin's user tools.
    change = reverse("admin:integrations_oauthintegration_change", args=[integration.pk])
    assert f'href="{change}"' in page.text
    assert reverse("admin:logout") in page.text

    stored = json.loads(OAuthIntegration.objects.get().last_test_profile)
    assert stored["userinfo"]["family_name"] == "Lovelace"
    assert stored["id_token"]["nonce"] == "[redacted]"
    assert "access_token" not in stored["token"]


def test_test_login_works_while_the_integration_is_disabled(client, staff_user, integration):
    integration.enabled = False
    integration.save()
    client.force_login(staff_user)
    started = start_test_login(client, integration)
    with mock() as rsps:
        idp_answers(rsps, IdPStub(), started, userinfo={"sub": "user-123"})
        assert callback(client, started).status_code == 303


def test_a_failed_test_login_shows_the_failing_step(client, admin_user_a, integration):
    client.force_login(admin_user_a)
    started = start_test_login(client, integration)
    response = client.get(
        f"/oauth/callback/{integration.callback_key}",
        {"error": "invalid_scope", "state": started.state},
    )
    page = client.get(response["Location"])
    assert "authorize" in page.text and "idp_invalid_scope" in page.text


def test_editor_and_other_accounts_cannot_run_a_test_login(
    client, editor_a, admin_user_b, integration
):
    url = reverse("participants:test_login_start", args=[integration.pk])
    for user in (editor_a, admin_user_b):
        client.force_login(user)
        assert client.get(url).status_code == 404
    assert not LoginAttempt.objects.exists()


def test_anonymous_users_are_sent_to_the_admin_login(client, integration):
    response = client.get(reverse("participants:test_login_start", args=[integration.pk]))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_result_page_belongs_to_the_user_who_ran_it(client, admin_user_a, staff_user, integration):
    client.force_login(admin_user_a)
    started = start_test_login(client, integration)
    with mock() as rsps:
        idp_answers(rsps, IdPStub(), started, userinfo={"sub": "user-123"})
        location = callback(client, started)["Location"]
    client.force_login(staff_user)
    assert client.get(location).status_code == 404
