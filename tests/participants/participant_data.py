"""Shared by the erasure and export tests: a participant with data everywhere, and neighbours."""

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEvent
from integrations.webhooks.signing import message_id_generate
from participants.models import LoginAttempt, Participant, RememberedLogin
from tests.factories import (
    CampaignFactory,
    OAuthIntegrationFactory,
    ParticipantFactory,
    ParticipationFactory,
)
from tests.integrations.webhooks.webhook_support import make_endpoint

ISSUER = "https://idp.example.com"


def delivery_about(endpoint, participant, *, status=DeliveryStatus.PENDING, event="x"):
    subject = participant.subject if isinstance(participant, Participant) else participant
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event_id=message_id_generate(),
        event_type=event,
        payload={"type": event, "data": {"participant": {"subject": subject, "issuer": ISSUER}}},
        status=status,
    )
    WebhookAttempt.objects.create(delivery=delivery, started_at=timezone.now(), status_code=500)
    return delivery


def login_attempt(participant, n):
    return LoginAttempt.objects.create(
        state_hash=f"{n:064d}",
        browser_hash="b" * 64,
        account=participant.account,
        expires_at=timezone.now(),
        participant=participant,
    )


@pytest.fixture
def world(account, other_account):
    """Ada in account A with her data everywhere; someone else in A; Ada's namesake in B."""
    integration = OAuthIntegrationFactory(account=account)
    ada = ParticipantFactory(account=account, integration=integration, subject="sub-ada")
    grace = ParticipantFactory(account=account, integration=integration, subject="sub-grace")
    # The same identity at the same IdP, in another account: another customer's participant.
    namesake = ParticipantFactory(account=other_account, subject="sub-ada")
    summer = CampaignFactory(account=account, title="Summer contest")
    winter = CampaignFactory(account=account, title="Winter quiz")
    theirs = CampaignFactory(account=other_account)
    email = {"email": "Ada@Example.com"}
    participations = [
        ParticipationFactory(campaign=summer, participant=ada, values=email),
        ParticipationFactory(campaign=winter, participant=ada, values={"firstname": "Ada"}),
    ]
    ParticipationFactory(campaign=summer, participant=grace, values={"email": "g@example.com"})
    ParticipationFactory(campaign=theirs, participant=namesake, values=email)
    attempts = [login_attempt(ada, 1), login_attempt(ada, 2)]
    login_attempt(grace, 3)
    endpoint = make_endpoint(account, events=[*WebhookEvent.values])
    unsubscribed = make_endpoint(account, events=[WebhookEvent.PARTICIPATION_CREATED])
    their_endpoint = make_endpoint(other_account, events=[*WebhookEvent.values])
    deliveries = {
        "pending": delivery_about(endpoint, ada),
        "failed": delivery_about(unsubscribed, ada, status=DeliveryStatus.FAILED),
        "delivered": delivery_about(endpoint, ada, status=DeliveryStatus.DELIVERED),
        "grace": delivery_about(endpoint, grace),
        "theirs": delivery_about(their_endpoint, "sub-ada"),
    }
    RememberedLogin.objects.create(
        token_hash="t" * 64,
        participant=ada,
        integration=integration,
        profile="{}",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    return {
        "ada": ada,
        "grace": grace,
        "namesake": namesake,
        "participations": participations,
        "attempts": attempts,
        "deliveries": deliveries,
    }
