"""Erasure: an account's Administrator (or staff) finds one participant by IdP subject or
e-mail, sees what will go, and erases it in one transaction; a record without personal data
remains and `participant.erased` tells the customer's systems. Never across accounts."""

import pytest
from django.db import DatabaseError, connection
from django.urls import reverse

from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEvent
from participants.erasure import participant_erase
from participants.models import (
    LoginAttempt,
    Participant,
    ParticipantErasure,
    Participation,
    RememberedLogin,
)
from tests.factories import make_staff
from tests.integrations.webhooks.webhook_support import assert_valid_event
from tests.participants.participant_data import ISSUER

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:participants_participant_changelist")
ERASURES = reverse("admin:participants_participanterasure_changelist")


def erase_url(participant):
    return reverse("admin:participants_participant_erase", args=[participant.pk])


# ---------------------------------------------------------------------------- finding
@pytest.mark.parametrize("term", ["sub-ada", "ada@example.com", "  ADA@EXAMPLE.COM "])
def test_an_administrator_finds_a_participant_by_subject_or_email(
    client, admin_user_a, world, term
):
    client.force_login(admin_user_a)
    found = client.get(CHANGELIST, {"q": term})
    assert list(found.context["cl"].result_list) == [world["ada"]]


def test_a_partial_subject_finds_nobody(client, admin_user_a, world):
    client.force_login(admin_user_a)
    assert not list(client.get(CHANGELIST, {"q": "sub-"}).context["cl"].result_list)


def test_the_search_never_reaches_another_accounts_participants(client, admin_user_b, world):
    client.force_login(admin_user_b)
    found = client.get(CHANGELIST, {"q": "ada@example.com"})
    assert list(found.context["cl"].result_list) == [world["namesake"]]


# ---------------------------------------------------------------------------- confirmation
def test_the_confirmation_page_lists_what_will_go_and_deletes_nothing(client, admin_user_a, world):
    client.force_login(admin_user_a)
    page = client.get(erase_url(world["ada"]))

    assert page.status_code == 200
    plan = page.context["plan"]
    assert [p.campaign.title for p in plan.participations] == ["Summer contest", "Winter quiz"]
    assert (plan.login_attempts, plan.undelivered_events, plan.delivered_events) == (2, 2, 1)
    assert plan.remembered_logins == 1 and plan.endpoints_told == 1
    assert "Summer contest" in page.text and "Winter quiz" in page.text
    assert "2 login attempts in the SSO activity log" in page.text
    assert "2 webhook events about them not delivered yet" in page.text
    assert 'name="csrfmiddlewaretoken"' in page.text
    assert Participant.objects.filter(pk=world["ada"].pk).exists()
    assert Participation.objects.filter(participant=world["ada"]).count() == 2


# ---------------------------------------------------------------------------- erasing
def test_erasing_deletes_everything_about_the_participant_and_keeps_a_record(
    client, admin_user_a, account, world
):
    client.force_login(admin_user_a)
    response = client.post(erase_url(world["ada"]))

    assert response.status_code == 302 and response["Location"] == ERASURES
    ada, deliveries = world["ada"], world["deliveries"]
    assert not Participant.objects.filter(pk=ada.pk).exists()
    assert not Participation.objects.filter(pk__in=[p.pk for p in world["participations"]])
    assert not LoginAttempt.objects.filter(pk__in=[a.pk for a in world["attempts"]])
    assert not RememberedLogin.objects.exists()
    gone = [deliveries[k].pk for k in ("pending", "failed", "delivered")]
    assert not WebhookDelivery.objects.filter(pk__in=gone).exists()
    assert not WebhookAttempt.objects.filter(delivery_id__in=gone).exists()
    # Someone else in the account, and the other account's namesake, are untouched.
    assert Participation.objects.filter(participant=world["grace"]).count() == 1
    assert LoginAttempt.objects.filter(participant=world["grace"]).count() == 1
    assert WebhookDelivery.objects.filter(pk=deliveries["grace"].pk).exists()
    assert WebhookDelivery.objects.filter(pk=deliveries["theirs"].pk).exists()
    assert Participation.objects.filter(participant=world["namesake"]).count() == 1

    erasure = ParticipantErasure.objects.get()
    assert erasure.account == account and erasure.erased_by == admin_user_a
    assert (erasure.participations, erasure.login_attempts, erasure.webhook_deliveries) == (
        2,
        2,
        3,
    )
    assert (erasure.remembered_logins, erasure.erased_events) == (1, 1)
    # Who, when, which account, counts: no field could hold anything about the participant.
    assert {f.name for f in ParticipantErasure._meta.fields} == {
        "id",
        "account",
        "erased_by",
        "erased_at",
        "participations",
        "login_attempts",
        "webhook_deliveries",
        "remembered_logins",
        "erased_events",
    }
    stored = " ".join(str(getattr(erasure, f.attname)) for f in ParticipantErasure._meta.fields)
    for personal in ("sub-ada", "Ada", "example.com", ISSUER):
        assert personal not in stored


def test_the_customer_hears_of_it_through_participant_erased(client, admin_user_a, world):
    client.force_login(admin_user_a)
    client.post(erase_url(world["ada"]))

    event = WebhookDelivery.objects.get(event_type=WebhookEvent.PARTICIPANT_ERASED)
    assert_valid_event(event.payload)
    assert event.payload["data"] == {
        "participant": {
            "subject": "sub-ada",
            "issuer": ISSUER,
            "integration_id": world["ada"].integration_id,
        },
        "participation_ids": sorted(p.pk for p in world["participations"]),
    }
    # Only the account's endpoint subscribed to the event.
    assert event.endpoint.account_id == world["ada"].account_id


def test_an_erasure_that_fails_half_way_erases_nothing(admin_user_a, world):
    ada = world["ada"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                "RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON participants_participanterasure "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON participants_participanterasure "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )

    with pytest.raises(DatabaseError):
        participant_erase(participant=ada, erased_by=admin_user_a)

    assert Participant.objects.filter(pk=ada.pk).exists()
    assert Participation.objects.filter(participant=ada).count() == 2
    assert LoginAttempt.objects.filter(participant=ada).count() == 2
    assert WebhookDelivery.objects.filter(pk=world["deliveries"]["pending"].pk).exists()
    assert not WebhookDelivery.objects.filter(event_type=WebhookEvent.PARTICIPANT_ERASED)


def test_staff_may_erase_in_any_account_and_customers_see_them_as_platform_staff(
    client, admin_user_a, world
):
    staff = make_staff(username="ops-jane")
    client.force_login(staff)
    assert client.post(erase_url(world["ada"])).status_code == 302

    client.force_login(admin_user_a)
    page = client.get(ERASURES)
    assert "Platform staff" in page.text and "ops-jane" not in page.text


# ---------------------------------------------------------------------------- the account line
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_accounts_administrator_cannot_see_or_erase_the_participant(
    client, admin_user_b, world, method
):
    client.force_login(admin_user_b)
    response = getattr(client, method)(erase_url(world["ada"]))
    assert response.status_code == 404
    assert Participant.objects.filter(pk=world["ada"].pk).exists()
    assert not ParticipantErasure.objects.exists()
    detail = reverse("admin:participants_participant_change", args=[world["ada"].pk])
    assert client.get(detail).status_code in (302, 404)


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_editor_cannot_erase(client, editor_a, world, method):
    client.force_login(editor_a)
    assert client.get(CHANGELIST).status_code == 403
    response = getattr(client, method)(erase_url(world["ada"]))
    assert response.status_code in (403, 404)
    assert Participant.objects.filter(pk=world["ada"].pk).exists()


def test_a_participant_cannot_be_deleted_around_the_erasure_page(client, admin_user_a, world):
    client.force_login(admin_user_a)
    delete = reverse("admin:participants_participant_delete", args=[world["ada"].pk])
    client.post(delete, {"post": "yes"})
    client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [world["ada"].pk]})
    assert Participant.objects.filter(pk=world["ada"].pk).exists()


# ---------------------------------------------------------------------------- the record
def test_the_erasure_records_are_read_only_and_scoped(
    client, admin_user_a, admin_user_b, staff_user, world
):
    client.force_login(admin_user_a)
    client.post(erase_url(world["ada"]))
    erasure = ParticipantErasure.objects.get()
    change = reverse("admin:participants_participanterasure_change", args=[erasure.pk])

    page = client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.text
    assert client.get(reverse("admin:participants_participanterasure_add")).status_code == 403
    delete = reverse("admin:participants_participanterasure_delete", args=[erasure.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403

    client.force_login(staff_user)
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ParticipantErasure.objects.filter(pk=erasure.pk).exists()

    client.force_login(admin_user_b)
    assert not list(client.get(ERASURES).context["cl"].result_list)
    assert client.get(change).status_code in (302, 404)


def test_the_erasure_page_counts_in_words_one_or_many(client, admin_user_a, world):
    client.force_login(admin_user_a)
    text = client.get(erase_url(world["ada"])).text
    assert "1 delivered webhook event: its payload leaves the delivery log" in text
    assert "2 participations" in text and "(s)" not in text
