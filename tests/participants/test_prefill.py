"""Prefilled forms: what the IdP supplied is shown, hidden or locked as each field says."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from campaigns.models import PrefillMode, SSOMode, WhenPrefilled
from participants.models import Participation
from participants.prefill import Prefill, prefill_clear, prefill_get, prefill_set
from tests.factories import OAuthIntegrationFactory, ParticipantFactory
from tests.participants.conftest import IDP_VALUES, answers, form_token, form_url, log_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(account):
    return OAuthIntegrationFactory(account=account, display_name="Acme ID")


@pytest.fixture
def participant(account):
    return ParticipantFactory(account=account, subject="sub-123")


@pytest.fixture
def sso_campaign(campaign, integration):
    campaign.oauth_integration = integration
    campaign.save()
    return campaign


def set_behaviour(campaign, variable, behaviour):
    campaign.fields.filter(variable=variable).update(when_prefilled=behaviour)


def test_prefill_round_trip_through_the_session(client, campaign):
    request = RequestFactory().get("/")
    request.session = client.session
    assert prefill_get(request, campaign) is None
    prefill_set(
        request, campaign, participant_id=4, values={"email": "a@b.c"}, integration_name="X"
    )
    prefill = prefill_get(request, campaign)
    assert isinstance(prefill, Prefill)
    assert (prefill.participant_id, prefill.values, prefill.integration_name) == (
        4,
        {"email": "a@b.c"},
        "X",
    )
    prefill_clear(request, campaign)
    assert prefill_get(request, campaign) is None


def test_a_malformed_session_entry_is_no_prefill(client, campaign):
    request = RequestFactory().get("/")
    request.session = client.session
    request.session[f"sso:{campaign.pk}"] = {"participant_id": "1; drop", "values": []}
    assert prefill_get(request, campaign) is None


def test_optional_sso_offers_the_login_button_and_the_manual_form(client, sso_campaign):
    page = client.get(form_url(sso_campaign))
    assert "Log in with Acme ID" in page.text
    login_url = reverse("participants:login_start", args=[sso_campaign.slug])
    assert f'href="{login_url}?lang=en"' in page.text
    assert 'name="f-firstname"' in page.text


def test_landing_page_offers_the_login_and_the_manual_form(client, sso_campaign):
    page = client.get(reverse("participants:landing", args=[sso_campaign.slug]))
    login_url = reverse("participants:login_start", args=[sso_campaign.slug])
    assert f'href="{login_url}?lang=en"' in page.text
    assert "Log in with Acme ID" in page.text
    assert f'href="{form_url(sso_campaign)}"' in page.text


def test_landing_page_of_a_login_only_campaign_offers_only_the_login(client, sso_campaign):
    sso_campaign.sso_mode = SSOMode.REQUIRED
    sso_campaign.save()
    page = client.get(reverse("participants:landing", args=[sso_campaign.slug]))
    assert "Log in with Acme ID" in page.text
    assert f'href="{form_url(sso_campaign)}"' not in page.text


def test_landing_page_without_a_usable_integration_has_no_login(client, sso_campaign):
    sso_campaign.oauth_integration.enabled = False
    sso_campaign.oauth_integration.save()
    page = client.get(reverse("participants:landing", args=[sso_campaign.slug]))
    assert "Log in with" not in page.text
    assert f'href="{form_url(sso_campaign)}"' in page.text


def test_required_sso_without_login_shows_only_the_login_button(client, sso_campaign):
    sso_campaign.sso_mode = SSOMode.REQUIRED
    sso_campaign.save()
    page = client.get(form_url(sso_campaign))
    assert "Log in with Acme ID" in page.text
    assert 'name="f-firstname"' not in page.text
    # Posting the form anyway stores nothing.
    response = client.post(form_url(sso_campaign), answers("a" * 43))
    assert response.status_code == 303
    assert not Participation.objects.exists()


def test_show_prefilled_field_is_editable_with_a_discreet_hint(client, sso_campaign, participant):
    log_in(client, sso_campaign, participant)
    page = client.get(form_url(sso_campaign))
    assert 'value="Ada"' in page.text
    assert "From your Acme ID account" in page.text
    assert "Log in with Acme ID" not in page.text
    assert "disabled" not in page.text.split('name="f-firstname"')[1].split(">")[0]


def test_participant_corrects_a_prefilled_value(client, sso_campaign, participant):
    log_in(client, sso_campaign, participant)
    page = client.get(form_url(sso_campaign))
    client.post(
        form_url(sso_campaign),
        answers(form_token(page), email="ada@new.example"),
    )
    participation = Participation.objects.get()
    assert participation.participant == participant
    assert participation.prefilled == IDP_VALUES
    assert participation.changed == ["email"]
    assert participation.values["email"] == "ada@new.example"
    assert participation.once_key == f"p:{participant.pk}"


def test_hidden_prefilled_field_is_not_rendered_and_its_value_kept(
    client, sso_campaign, participant
):
    set_behaviour(sso_campaign, "email", WhenPrefilled.HIDE)
    log_in(client, sso_campaign, participant)
    page = client.get(form_url(sso_campaign))
    assert 'name="f-email"' not in page.text
    assert "ada@idp.example" not in page.text
    # A forged hidden input cannot replace the IdP's value.
    client.post(form_url(sso_campaign), answers(form_token(page), email="evil@example.com"))
    assert Participation.objects.get().values["email"] == "ada@idp.example"


def test_readonly_prefilled_field_ignores_a_tampered_post(client, sso_campaign, participant):
    set_behaviour(sso_campaign, "lastname", WhenPrefilled.READONLY)
    log_in(client, sso_campaign, participant)
    page = client.get(form_url(sso_campaign))
    tag = page.text.split('name="f-lastname"')[1].split(">")[0]
    assert "disabled" in tag
    assert "From your Acme ID account, cannot be changed here" in page.text
    client.post(
        form_url(sso_campaign),
        answers(form_token(page), lastname="Tampered", email="ada@idp.example"),
    )
    participation = Participation.objects.get()
    assert participation.values["lastname"] == "Lovelace"
    assert participation.changed == []


@pytest.mark.parametrize("behaviour", [WhenPrefilled.HIDE, WhenPrefilled.READONLY])
def test_a_field_the_idp_left_empty_is_never_hidden_or_locked(
    client, sso_campaign, participant, behaviour
):
    set_behaviour(sso_campaign, "email", behaviour)
    log_in(client, sso_campaign, participant, values={"firstname": "Ada", "email": ""})
    page = client.get(form_url(sso_campaign))
    tag = page.text.split('name="f-email"')[1].split(">")[0]
    assert "disabled" not in tag
    client.post(form_url(sso_campaign), answers(form_token(page), email="typed@example.com"))
    assert Participation.objects.get().values["email"] == "typed@example.com"


def test_an_invalid_idp_value_is_shown_for_correction_not_locked(client, sso_campaign, participant):
    set_behaviour(sso_campaign, "email", WhenPrefilled.HIDE)
    log_in(client, sso_campaign, participant, values={**IDP_VALUES, "email": "not-an-email"})
    page = client.get(form_url(sso_campaign))
    assert 'value="not-an-email"' in page.text


def test_auto_submit_submits_at_once_when_every_required_field_is_known(
    client, sso_campaign, participant
):
    sso_campaign.prefill_mode = PrefillMode.AUTO_SUBMIT
    sso_campaign.save()
    log_in(client, sso_campaign, participant)
    response = client.get(form_url(sso_campaign))
    assert response.status_code == 303
    assert response["Location"].startswith(reverse("participants:thanks", args=[sso_campaign.slug]))
    participation = Participation.objects.get()
    assert participation.values["email"] == "ada@idp.example"
    assert participation.values["optin_newsletter"] is False
    assert participation.participant == participant
    # Coming back to the form step does not submit again.
    client.get(form_url(sso_campaign))
    assert Participation.objects.count() == 1


def test_auto_submit_of_an_unlimited_campaign_submits_once_per_login(
    client, sso_campaign, participant
):
    sso_campaign.prefill_mode = PrefillMode.AUTO_SUBMIT
    sso_campaign.participation_limit = "unlimited"
    sso_campaign.save()
    log_in(client, sso_campaign, participant)
    client.get(form_url(sso_campaign))
    client.get(form_url(sso_campaign))
    assert Participation.objects.count() == 1


def test_auto_submit_shows_the_form_when_a_required_value_is_missing(
    client, sso_campaign, participant
):
    sso_campaign.prefill_mode = PrefillMode.AUTO_SUBMIT
    sso_campaign.save()
    log_in(client, sso_campaign, participant, values={"firstname": "Ada"})
    response = client.get(form_url(sso_campaign))
    assert response.status_code == 200
    assert 'value="Ada"' in response.text
    assert not Participation.objects.exists()


def test_a_prefill_for_a_participant_of_another_account_is_ignored(
    client, sso_campaign, other_account
):
    stranger = ParticipantFactory(account=other_account)
    log_in(client, sso_campaign, stranger)
    page = client.get(form_url(sso_campaign))
    assert 'value="Ada"' not in page.text


def test_a_select_is_prefilled_whatever_the_case_the_idp_value_has(
    client, sso_campaign, participant
):
    # The campaign's gender options are m / f / x; the mapping table says "M".
    set_behaviour(sso_campaign, "gender", WhenPrefilled.READONLY)
    log_in(client, sso_campaign, participant, values={**IDP_VALUES, "gender": "M"})
    page = client.get(form_url(sso_campaign))
    select = page.text.split('name="f-gender"')[1].split("</select>")[0]
    assert '<option value="m" selected>' in select
    client.post(form_url(sso_campaign), answers(form_token(page), gender="f"))
    # Read-only once prefilled: the stored value is the IdP's, in the option's own case.
    assert Participation.objects.get().values["gender"] == "m"
