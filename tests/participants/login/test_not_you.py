""" "Not you?" on a prefilled form: the login is forgotten in this browser, nothing is sent."""

import pytest
from django.test import Client
from django.urls import reverse

from campaigns.models import SSOMode
from integrations.models import WebhookDelivery
from participants.models import Participation
from tests.factories import OAuthIntegrationFactory, ParticipantFactory, make_form_campaign
from tests.idp_stub import IdPStub
from tests.integrations.webhooks.webhook_support import make_endpoint
from tests.participants.conftest import form_url, log_in
from tests.participants.login.sso_flow import (
    callback,
    idp_answers,
    login_start,
    make_sso_campaign,
    mock,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sso_campaign(account):
    """A manual-form campaign with an integration that maps nothing (prefilled directly)."""
    return make_form_campaign(
        account=account,
        title="Summer contest",
        slug="summer",
        oauth_integration=OAuthIntegrationFactory(account=account, display_name="Acme ID"),
    )


@pytest.fixture
def participant(account, sso_campaign):
    return ParticipantFactory(account=account, integration=sso_campaign.oauth_integration)


def not_you_url(campaign, **query):
    url = reverse("participants:not_you", args=[campaign.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_a_prefilled_form_offers_not_you_as_a_post_form_with_csrf(
    client, sso_campaign, participant
):
    log_in(client, sso_campaign, participant)
    page = client.get(form_url(sso_campaign, lang="en")).text
    form = page.split('class="not-you"', 1)[1].split("</form>", 1)[0]
    assert f'action="{not_you_url(sso_campaign, lang="en")}"' in page
    assert 'name="csrfmiddlewaretoken"' in form
    assert ">Not you?</button>" in form
    assert 'method="post"' in page.split('class="not-you"', 1)[0].rsplit("<form", 1)[1]


def test_an_empty_form_has_no_not_you(client, sso_campaign):
    assert "not-you" not in client.get(form_url(sso_campaign)).text


def test_not_you_drops_the_prefill_and_shows_the_empty_form_without_submitting_anything(
    client, account, sso_campaign, participant
):
    make_endpoint(account)
    log_in(client, sso_campaign, participant)
    assert 'value="Ada"' in client.get(form_url(sso_campaign)).text

    response = client.post(not_you_url(sso_campaign))

    assert response.status_code == 303
    assert response["Location"] == form_url(sso_campaign)
    page = client.get(response["Location"])
    assert 'value="Ada"' not in page.text and "Lovelace" not in page.text
    assert "Log in with Acme ID" in page.text
    assert not Participation.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_not_you_keeps_the_participants_language(client, sso_campaign, participant):
    log_in(client, sso_campaign, participant)
    page = client.get(form_url(sso_campaign, lang="fr")).text
    assert ">Ce n’est pas vous\u202f?</button>" in page

    response = client.post(not_you_url(sso_campaign, lang="fr"))

    assert response["Location"] == form_url(sso_campaign, lang="fr")
    assert "Se connecter avec Acme ID" in client.get(response["Location"]).text


def test_a_get_forgets_nothing_so_a_prefetcher_cannot_log_anyone_out(
    client, sso_campaign, participant
):
    log_in(client, sso_campaign, participant)
    assert client.get(not_you_url(sso_campaign)).status_code == 405
    assert 'value="Ada"' in client.get(form_url(sso_campaign)).text


def test_a_post_without_the_csrf_token_forgets_nothing(sso_campaign, participant):
    browser = Client(enforce_csrf_checks=True)
    log_in(browser, sso_campaign, participant)
    assert browser.post(not_you_url(sso_campaign)).status_code == 403
    assert 'value="Ada"' in browser.get(form_url(sso_campaign)).text


def test_the_same_persons_prefill_goes_on_the_other_campaigns_too_but_not_anothers(
    client, account, sso_campaign, participant
):
    second = make_form_campaign(account=account, oauth_integration=sso_campaign.oauth_integration)
    third = make_form_campaign(account=account, oauth_integration=sso_campaign.oauth_integration)
    someone_else = ParticipantFactory(account=account)
    log_in(client, sso_campaign, participant)
    log_in(client, second, participant)
    log_in(client, third, someone_else, values={"firstname": "Grace"})

    client.post(not_you_url(sso_campaign))

    assert 'value="Ada"' not in client.get(form_url(second)).text
    assert 'value="Grace"' in client.get(form_url(third)).text


def test_on_a_campaign_that_requires_a_login_not_you_leads_back_to_the_login(
    client, sso_campaign, participant
):
    sso_campaign.sso_mode = SSOMode.REQUIRED
    sso_campaign.save()
    log_in(client, sso_campaign, participant)

    page = client.get(client.post(not_you_url(sso_campaign))["Location"])

    assert "To take part, log in with your Acme ID account" in page.text
    assert 'name="f-firstname"' not in page.text


def test_a_login_still_at_the_idp_cannot_complete_after_not_you(client, account):
    campaign, _integration = make_sso_campaign(account)
    idp = IdPStub()
    started = login_start(client, campaign)

    client.post(not_you_url(campaign))

    with mock() as rsps:
        token = idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        response = callback(client, started)
    assert response.status_code >= 400
    assert token.call_count == 0
    assert 'value="Ada"' not in client.get(form_url(campaign)).text


def test_not_you_on_an_unknown_campaign_is_404(client, db):
    assert client.post(reverse("participants:not_you", args=["nope"])).status_code == 404
