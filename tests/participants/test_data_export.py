"""Export: an account's Administrator (or staff) downloads one participant's data as JSON."""

import json

import pytest
from django.urls import reverse

from participants.models import LoginAttempt
from tests.factories import make_staff

pytestmark = pytest.mark.django_db


def export_url(participant):
    return reverse("admin:participants_participant_export", args=[participant.pk])


def download(client, participant) -> dict:
    response = client.get(export_url(participant))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="participant-{participant.pk}.json"'
    )
    assert "no-store" in response["Cache-Control"]
    return json.loads(response.content)


def test_the_export_holds_the_participant_their_participations_and_login_attempts(
    client, admin_user_a, account, world
):
    ada = world["ada"]
    client.force_login(admin_user_a)

    data = download(client, ada)

    assert data["format"] == "campaign-sso.participant-data" and data["version"] == 1
    assert data["account"] == {"id": account.pk, "name": "Account A"}
    assert data["participant"]["subject"] == "sub-ada"
    assert data["participant"]["issuer"] == "https://idp.example.com"
    assert data["participant"]["integration"]["id"] == ada.integration_id
    participations = data["participations"]
    assert [p["id"] for p in participations] == [p.pk for p in world["participations"]]
    assert participations[0]["values"] == {"email": "Ada@Example.com"}
    assert participations[0]["campaign"]["title"] == "Summer contest"
    assert {"submitted_at", "language", "from_idp", "changed"} <= set(participations[0])
    assert [a["id"] for a in data["login_attempts"]] == [a.pk for a in world["attempts"]]
    assert len(data["remembered_logins"]) == 1
    # Nobody else's data.
    assert "sub-grace" not in json.dumps(data) and "g@example.com" not in json.dumps(data)


def test_login_attempts_come_without_tokens_hashes_or_configuration(client, admin_user_a, world):
    attempt = world["attempts"][0]
    LoginAttempt.objects.filter(pk=attempt.pk).update(
        nonce="the-nonce-value",
        code_verifier="the-pkce-verifier",
        snapshot={"client_id": "the-client-id", "token_endpoint": "https://idp.example.com/t"},
        return_to="/c/summer/form/",
    )
    client.force_login(admin_user_a)

    data = download(client, world["ada"])

    exported = data["login_attempts"][0]
    assert set(exported) == {
        "id",
        "started_at",
        "finished_at",
        "campaign",
        "integration_id",
        "language",
        "outcome",
        "failed_step",
        "error_code",
        "warning_code",
        "error_reference",
        "idp_duration_ms",
    }
    body = json.dumps(data)
    for secret in ("the-nonce-value", "the-pkce-verifier", "the-client-id", attempt.state_hash):
        assert secret not in body
    assert "b" * 64 not in body  # the browser hash


def test_staff_export_from_any_account(client, world):
    client.force_login(make_staff(username="ops"))
    assert download(client, world["namesake"])["participant"]["subject"] == "sub-ada"


def test_another_accounts_administrator_cannot_export_the_participant(client, admin_user_b, world):
    client.force_login(admin_user_b)
    response = client.get(export_url(world["ada"]))
    assert response.status_code == 404
    assert b"sub-ada" not in response.content


def test_an_editor_cannot_export(client, editor_a, world):
    client.force_login(editor_a)
    response = client.get(export_url(world["ada"]))
    assert response.status_code in (403, 404)
    assert b"Ada@Example.com" not in response.content


def test_the_participant_list_links_the_export(client, admin_user_a, world):
    client.force_login(admin_user_a)
    page = client.get(reverse("admin:participants_participant_changelist"))
    assert f'href="{export_url(world["ada"])}"' in page.text
