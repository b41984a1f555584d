"""`profile.updated` reports every submitted value that differs from what the IdP gave: a
corrected one, a cleared one, and one the IdP was asked for but did not have (`before: null`),
so that the customer can write them back to the IdP."""

import pytest
import responses

from integrations.models import WebhookDelivery, WebhookEvent
from participants.models import Participation
from tests.factories import OAuthIntegrationFactory, ParticipantFactory
from tests.idp_stub import IdPStub
from tests.integrations.webhooks.webhook_support import HOOK_URL, assert_valid_event, make_endpoint
from tests.participants.conftest import IDP_VALUES, answers, form_token, form_url, log_in
from tests.participants.login.sso_flow import (
    DEFAULT_RULES,
    callback,
    idp_answers,
    login_start,
    make_sso_campaign,
    mock,
)

pytestmark = pytest.mark.django_db

# The mapping also reads these; this participant's IdP had no value for them.
NOT_AT_THE_IDP = ("phone", "birthdate", "optin_newsletter")


@pytest.fixture(autouse=True)
def receiver(account):
    make_endpoint(account)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(HOOK_URL, status=204)
        yield rsps


@pytest.fixture
def sso_campaign(campaign, account):
    campaign.oauth_integration = OAuthIntegrationFactory(account=account, display_name="Acme ID")
    campaign.save()
    return campaign


@pytest.fixture
def participant(account, sso_campaign):
    return ParticipantFactory(account=account, integration=sso_campaign.oauth_integration)


def submit(client, campaign, **values):
    page = client.get(form_url(campaign))
    data = answers(form_token(page), email=IDP_VALUES["email"], **values)
    response = client.post(form_url(campaign), data)
    assert response.status_code == 303, response.status_code
    return Participation.objects.latest("pk")


def profile_update() -> dict | None:
    delivery = WebhookDelivery.objects.filter(event_type=WebhookEvent.PROFILE_UPDATED).first()
    if delivery is None:
        return None
    assert_valid_event(delivery.payload)
    return delivery.payload["data"]["changes"]


def test_a_value_the_idp_did_not_have_is_reported_with_before_null(
    client, sso_campaign, participant
):
    log_in(client, sso_campaign, participant, targets=NOT_AT_THE_IDP)

    participation = submit(client, sso_campaign, phone="+33 6 12 34 56 78")

    assert participation.changed == ["phone"]
    assert profile_update() == {"phone": {"before": None, "after": "+33612345678"}}
    created = WebhookDelivery.objects.get(event_type=WebhookEvent.PARTICIPATION_CREATED)
    assert created.payload["data"]["changed"] == ["phone"]
    assert created.payload["data"]["prefilled"] == ["email", "firstname", "lastname"]


def test_a_ticked_box_the_idp_had_no_value_for_is_reported(client, sso_campaign, participant):
    log_in(client, sso_campaign, participant, targets=NOT_AT_THE_IDP)
    submit(client, sso_campaign, optin_newsletter="on")
    assert profile_update() == {"optin_newsletter": {"before": None, "after": True}}


def test_a_cleared_value_is_reported_with_what_was_submitted(client, sso_campaign, participant):
    log_in(client, sso_campaign, participant, values={**IDP_VALUES, "phone": "+33612345678"})
    submit(client, sso_campaign, phone="")
    assert profile_update() == {"phone": {"before": "+33612345678", "after": ""}}


def test_an_unticked_box_the_idp_had_ticked_is_reported(client, sso_campaign, participant):
    log_in(client, sso_campaign, participant, values={**IDP_VALUES, "optin_newsletter": True})
    submit(client, sso_campaign)
    assert profile_update() == {"optin_newsletter": {"before": True, "after": False}}


def test_fields_left_empty_where_the_idp_had_nothing_are_no_change(
    client, sso_campaign, participant
):
    log_in(client, sso_campaign, participant, targets=NOT_AT_THE_IDP)
    participation = submit(client, sso_campaign)
    assert participation.changed == []
    assert profile_update() is None
    assert WebhookDelivery.objects.filter(event_type=WebhookEvent.PARTICIPATION_CREATED).exists()


def test_an_answer_the_mapping_does_not_read_is_no_profile_change(
    client, sso_campaign, participant
):
    # gender is on the form but the IdP is never asked for it: a campaign answer, not profile.
    log_in(client, sso_campaign, participant, targets=NOT_AT_THE_IDP)
    participation = submit(client, sso_campaign, gender="f")
    assert participation.changed == []
    assert profile_update() is None


def test_a_manual_participation_reports_no_profile_change(client, sso_campaign):
    participation = submit(client, sso_campaign, phone="+33 6 12 34 56 78", gender="f")
    assert participation.participant is None and participation.changed == []
    assert profile_update() is None


def test_after_a_real_login_a_value_missing_at_the_idp_is_reported(client, account, receiver):
    rules = [*DEFAULT_RULES, ("phone", "phone_number", "", False)]
    campaign, _integration = make_sso_campaign(account, rules=rules)
    started = login_start(client, campaign)
    with mock() as rsps:
        # The IdP's profile has no phone number.
        claims = {"given_name": "Ada", "family_name": "Lovelace", "email": "ada@idp.example"}
        idp_answers(rsps, IdPStub(), started, claims=claims)
        assert callback(client, started).status_code == 303

    submit(client, campaign, phone="+33 6 12 34 56 78", firstname="Ada", lastname="Lovelace")

    assert profile_update() == {"phone": {"before": None, "after": "+33612345678"}}
