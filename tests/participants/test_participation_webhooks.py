"""A submitted form writes its webhook events into the outbox, in the same transaction."""

import json

import pytest
import responses
from django.db import IntegrityError

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEvent
from participants.models import Participation
from participants.services import participation_create
from tests.factories import OAuthIntegrationFactory, ParticipantFactory
from tests.integrations.webhooks.webhook_support import HOOK_URL, assert_valid_event, make_endpoint
from tests.participants.conftest import IDP_VALUES, answers, form_token, form_url, log_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def sso_campaign(campaign, account):
    campaign.oauth_integration = OAuthIntegrationFactory(account=account, display_name="Acme ID")
    campaign.save()
    return campaign


@pytest.fixture
def participant(account, sso_campaign):
    return ParticipantFactory(
        account=account, subject="sub-123", integration=sso_campaign.oauth_integration
    )


def _submit(client, campaign, **values):
    page = client.get(form_url(campaign))
    return client.post(form_url(campaign), answers(form_token(page), **values))


@responses.activate
def test_a_corrected_prefilled_value_sends_participation_and_profile_update(
    client, account, sso_campaign, participant, django_capture_on_commit_callbacks
):
    responses.post(HOOK_URL, status=204)
    make_endpoint(account)
    log_in(client, sso_campaign, participant)

    with django_capture_on_commit_callbacks(execute=True):
        _submit(client, sso_campaign, email="ada@new.example")

    deliveries = {d.event_type: d for d in WebhookDelivery.objects.all()}
    assert set(deliveries) == {WebhookEvent.PARTICIPATION_CREATED, WebhookEvent.PROFILE_UPDATED}
    update = deliveries[WebhookEvent.PROFILE_UPDATED].payload
    assert update["data"]["changes"] == {
        "email": {"before": IDP_VALUES["email"], "after": "ada@new.example"}
    }
    assert update["data"]["participant"]["subject"] == "sub-123"
    for delivery in deliveries.values():
        assert_valid_event(delivery.payload)
        # At commit the delivery task ran (immediate backend in tests): both were sent.
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.DELIVERED
    sent = sorted(json.loads(call.request.body)["type"] for call in responses.calls)
    assert sent == ["participation.created", "profile.updated"]


@responses.activate
def test_unchanged_prefilled_values_send_no_profile_update(
    client, account, sso_campaign, participant
):
    responses.post(HOOK_URL, status=204)
    make_endpoint(account)
    log_in(client, sso_campaign, participant)

    _submit(client, sso_campaign, email=IDP_VALUES["email"])

    assert [d.event_type for d in WebhookDelivery.objects.all()] == [
        WebhookEvent.PARTICIPATION_CREATED
    ]


def test_a_manual_participation_is_sent_without_a_participant(client, account, campaign):
    make_endpoint(account, events=[WebhookEvent.PARTICIPATION_CREATED], is_active=False)
    _submit(client, campaign)
    assert Participation.objects.count() == 1
    assert not WebhookDelivery.objects.exists()  # the only endpoint is inactive


def test_another_accounts_endpoint_gets_nothing(client, other_account, campaign):
    make_endpoint(other_account)
    _submit(client, campaign)
    assert Participation.objects.count() == 1
    assert not WebhookDelivery.objects.exists()


def test_a_participation_that_is_not_stored_records_no_event(account, campaign):
    """The outbox rows roll back with the participation."""
    make_endpoint(account)
    participation_create(
        campaign=campaign,
        values={"firstname": "Ada"},
        prefilled={},
        language="en",
        submission_token="t" * 43,
        once_key=None,
    )
    assert WebhookDelivery.objects.count() == 1
    # A submission token already used in another campaign: the insert fails and the service
    # cannot resolve it, so the whole transaction rolls back, outbox rows included.
    other = type(campaign).objects.create(account=account, title="Other", slug="other")
    with pytest.raises(IntegrityError):
        participation_create(
            campaign=other,
            values={"firstname": "Bob"},
            prefilled={},
            language="en",
            submission_token="t" * 43,
            once_key=None,
        )
    assert Participation.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_an_oversized_event_never_fails_the_participation(account, campaign, settings, caplog):
    settings.WEBHOOK_MAX_PAYLOAD_BYTES = 500
    make_endpoint(account)

    with caplog.at_level("WARNING", logger="integrations.webhooks"):
        participation = participation_create(
            campaign=campaign,
            values={"firstname": "A" * 1_000},
            prefilled={},
            language="en",
            submission_token="s" * 43,
            once_key=None,
        )

    assert Participation.objects.filter(pk=participation.pk).exists()
    assert not WebhookDelivery.objects.exists()
    assert "not recorded" in caplog.text
