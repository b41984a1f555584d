"""The public form: submitting, and every bad input getting a clear answer while losing nothing."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import CampaignStatus, ParticipationLimit
from participants.models import Participation
from tests.factories import make_form_campaign
from tests.participants.conftest import answers, form_token, form_url, hidden_value

pytestmark = pytest.mark.django_db


def test_participant_fills_and_submits_the_form(client, campaign):
    page = client.get(form_url(campaign))
    assert page.status_code == 200
    assert "First name" in page.text and "E-mail address" in page.text

    response = client.post(
        form_url(campaign),
        answers(
            form_token(page),
            birthdate="1990-05-17",
            phone="+33 6 12 34 56 78",
            gender="f",
            optin_newsletter="on",
        ),
    )

    assert response.status_code == 303
    assert response["Location"].startswith(
        reverse("participants:thanks", args=[campaign.slug]) + "?r="
    )
    participation = Participation.objects.get(campaign=campaign)
    assert participation.values == {
        "firstname": "Ada",
        "lastname": "Lovelace",
        "email": "ada@example.com",
        "birthdate": "1990-05-17",
        "phone": "+33612345678",
        "gender": "f",
        "optin_newsletter": True,
    }
    assert participation.language == "en"
    assert participation.prefilled == {} and participation.changed == []
    thanks = client.get(response["Location"])
    assert "Thank you for taking part!" in thanks.text


def _post_bad(client, campaign, **values):
    page = client.get(form_url(campaign))
    response = client.post(form_url(campaign), answers(form_token(page), **values))
    assert response.status_code == 200
    assert not Participation.objects.exists()
    return response


def test_missing_required_fields_are_named_next_to_each_field(client, campaign):
    response = _post_bad(client, campaign, firstname="", email="")
    assert "There is a problem" in response.text
    assert 'id="id_f-firstname-error"' in response.text
    assert 'id="id_f-email-error"' in response.text
    assert response.text.count("This field is required.") >= 2
    # The field points at its message for screen readers; what was typed is still there.
    assert 'aria-describedby="id_f-firstname-error"' in response.text
    assert 'value="Lovelace"' in response.text


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("email", "ada-at-example", "Enter a valid e-mail address."),
        ("birthdate", "17/13/1990", "Enter a valid date."),
        ("birthdate", "2999-01-01", "Enter a date in the past."),
        ("phone", "12", "Enter a valid phone number"),
        ("phone", "+33 abc", "Enter a valid phone number"),
        ("gender", "admin", "Select a valid choice."),
    ],
)
def test_wrong_formats_get_a_clear_message_and_keep_the_input(
    client, campaign, variable, value, message
):
    response = _post_bad(client, campaign, **{variable: value})
    assert message in response.text
    assert f'id="id_f-{variable}-error"' in response.text
    assert "Lovelace" in response.text  # the other answers are kept


def test_oversized_values_are_refused_not_truncated(client, campaign):
    response = _post_bad(client, campaign, firstname="A" * 101)
    assert "Ensure this value has at most 100 characters (it has 101)." in response.text
    assert 'maxlength="100"' in response.text


def test_unknown_posted_variables_are_ignored(client, campaign):
    page = client.get(form_url(campaign))
    data = answers(form_token(page), evil="1")
    data.update({"is_admin": "yes", "f-account_id": "7", "values": "{}"})
    response = client.post(form_url(campaign), data)
    assert response.status_code == 303
    stored = Participation.objects.get().values
    assert set(stored) == {
        "firstname",
        "lastname",
        "email",
        "birthdate",
        "phone",
        "gender",
        "optin_newsletter",
    }


def test_a_form_posted_after_the_campaign_ended_stores_nothing(client, campaign):
    page = client.get(form_url(campaign))
    campaign.ends_at = timezone.now() - datetime.timedelta(minutes=1)
    campaign.save()
    response = client.post(form_url(campaign), answers(form_token(page)))
    assert response.status_code == 410
    assert "This campaign has ended" in response.text
    assert not Participation.objects.exists()


def test_a_form_posted_to_a_campaign_marked_ended_stores_nothing(client, campaign):
    page = client.get(form_url(campaign))
    campaign.status = CampaignStatus.ENDED
    campaign.save()
    response = client.post(form_url(campaign), answers(form_token(page)))
    assert response.status_code == 410
    assert not Participation.objects.exists()


def test_missing_csrf_token_gets_the_form_back_with_the_answers(campaign):
    client = Client(enforce_csrf_checks=True)
    page = client.get(form_url(campaign))
    response = client.post(form_url(campaign), answers(form_token(page), city="x"))
    assert response.status_code == 403
    assert "your answers were not sent" in response.text
    assert 'value="Lovelace"' in response.text
    assert 'name="csrfmiddlewaretoken"' in response.text  # a fresh token to submit again
    assert not Participation.objects.exists()


def test_wrong_csrf_token_gets_a_clear_page_and_stores_nothing(campaign):
    client = Client(enforce_csrf_checks=True)
    page = client.get(form_url(campaign))
    data = answers(form_token(page))
    data["csrfmiddlewaretoken"] = "x" * 64
    response = client.post(form_url(campaign), data)
    assert response.status_code == 403
    assert 'value="ada@example.com"' in response.text
    assert not Participation.objects.exists()

    # Submitting the returned form works.
    retry = client.post(
        form_url(campaign),
        {**data, "csrfmiddlewaretoken": hidden_value(response, "csrfmiddlewaretoken")},
    )
    assert retry.status_code == 303
    assert Participation.objects.count() == 1


def test_csrf_failure_outside_a_campaign_form_is_a_plain_clear_page(campaign):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("participants:landing", args=[campaign.slug]),
        {"x": "1"},
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert response.status_code == 403
    assert "Veuillez réessayer" in response.text


def test_a_post_without_form_token_is_not_stored_and_gets_the_form_back(client, campaign):
    response = client.post(form_url(campaign), answers(""))
    assert response.status_code == 200
    assert "Your answers were not sent yet." in response.text
    assert 'value="Ada"' in response.text
    assert not Participation.objects.exists()


# ---------------------------------------------------------------------------- double submits
def test_double_submit_creates_one_participation_and_shows_thanks(client, campaign):
    campaign.participation_limit = ParticipationLimit.UNLIMITED
    campaign.save()
    data = answers(form_token(client.get(form_url(campaign))))
    first = client.post(form_url(campaign), data)
    second = client.post(form_url(campaign), data)  # double click, refresh, back + submit
    assert first.status_code == second.status_code == 303
    assert second["Location"].startswith(reverse("participants:thanks", args=[campaign.slug]))
    assert Participation.objects.count() == 1


def test_resend_from_another_session_with_the_same_token_creates_nothing(campaign):
    campaign.participation_limit = ParticipationLimit.UNLIMITED
    campaign.save()
    first_client, second_client = Client(), Client()
    data = answers(form_token(first_client.get(form_url(campaign))))
    first_client.post(form_url(campaign), data)
    response = second_client.post(form_url(campaign), data)
    assert response.status_code == 303
    assert Participation.objects.count() == 1


def test_once_per_participant_two_tabs_second_sees_already_took_part(client, campaign):
    tab_one = form_token(client.get(form_url(campaign)))
    tab_two = form_token(client.get(form_url(campaign)))
    assert tab_one != tab_two
    client.post(form_url(campaign), answers(tab_one))
    response = client.post(form_url(campaign), answers(tab_two, firstname="Other"))
    assert response.status_code == 303
    assert response["Location"] == reverse("participants:already", args=[campaign.slug])
    assert "You already took part" in client.get(response["Location"]).text
    assert Participation.objects.count() == 1
    # Opening the form again says so at once.
    again = client.get(form_url(campaign))
    assert again.status_code == 303
    assert again["Location"].endswith("/already/")


def test_unlimited_campaign_accepts_several_participations(client, campaign):
    campaign.participation_limit = ParticipationLimit.UNLIMITED
    campaign.save()
    for _ in range(2):
        client.post(form_url(campaign), answers(form_token(client.get(form_url(campaign)))))
    assert Participation.objects.count() == 2


def test_another_browser_may_take_part_in_a_once_campaign(campaign):
    for browser in (Client(), Client()):
        browser.post(form_url(campaign), answers(form_token(browser.get(form_url(campaign)))))
    assert Participation.objects.count() == 2


def test_thanks_page_without_participation_leads_to_the_campaign(client, campaign):
    response = client.get(reverse("participants:thanks", args=[campaign.slug]))
    assert response.status_code == 302
    assert response["Location"] == reverse("participants:landing", args=[campaign.slug])


def test_the_thanks_page_needs_no_session_but_a_receipt_for_this_campaign(
    client, campaign, account
):
    thanks = reverse("participants:thanks", args=[campaign.slug])
    data = answers(form_token(client.get(form_url(campaign))))
    location = client.post(form_url(campaign), data)["Location"]
    # Another browser (no session at all) opening the same address sees the page.
    page = Client().get(location)
    assert page.status_code == 200
    assert "Thank you for taking part!" in page.text
    # The language links keep the receipt.
    french = Client().get(location + "&lang=fr")
    assert "Merci" in french.text
    assert "?lang=en&amp;r=" in french.text
    # A forged or another campaign's receipt leads to the campaign.
    other = make_form_campaign(account=account, slug="other-campaign")
    elsewhere = Client()
    other_page = elsewhere.get(form_url(other))
    other_location = elsewhere.post(form_url(other), answers(form_token(other_page)))["Location"]
    other_receipt = other_location.split("r=", 1)[1]
    assert Client().get(other_location).status_code == 200  # a good receipt, for its campaign
    for forged in ("1:abc:def", other_receipt, location.split("r=", 1)[1] + "x"):
        response = Client().get(thanks, {"r": forged})
        assert response.status_code == 302, forged


def test_a_required_checkbox_left_unticked_is_named(client, campaign):
    campaign.fields.filter(variable="optin_newsletter").update(required=True)
    response = _post_bad(client, campaign)
    assert 'id="id_f-optin_newsletter-error"' in response.text
    assert "This field is required." in response.text


def test_the_form_accepts_a_european_date_and_a_french_national_phone(client, campaign):
    page = client.get(form_url(campaign, lang="fr"))
    client.post(
        form_url(campaign, lang="fr"),
        answers(form_token(page), birthdate="17/05/1990", phone="06 12 34 56 78"),
    )
    values = Participation.objects.get().values
    assert values["birthdate"] == "1990-05-17"
    assert values["phone"] == "+33612345678"
