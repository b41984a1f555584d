"""participation_create: the rules the database backs, whoever calls it."""

import pytest

from campaigns.models import ParticipationLimit
from participants.models import Participation
from participants.services import AlreadyParticipatedError, participation_create
from tests.factories import CampaignFactory, ParticipantFactory

pytestmark = pytest.mark.django_db


def create(campaign, *, token="t" * 43, once_key="p:1", **kwargs):
    arguments = {
        "campaign": campaign,
        "values": {"firstname": "Ada", "email": "new@example.com"},
        "prefilled": {"firstname": "Ada", "email": "old@example.com", "city": "Paris"},
        "language": "en",
        "submission_token": token,
        "once_key": once_key,
    }
    arguments.update(kwargs)
    return participation_create(**arguments)


def test_changed_lists_the_prefilled_values_the_participant_changed(account):
    participant = ParticipantFactory(account=account)
    participation = create(CampaignFactory(account=account), participant=participant)
    assert participation.changed == ["email"]
    assert participation.participant == participant
    assert participation.once_key == "p:1"


def test_the_same_submission_token_twice_returns_the_first_participation(account):
    campaign = CampaignFactory(account=account, participation_limit=ParticipationLimit.UNLIMITED)
    first = create(campaign)
    second = create(campaign, values={"firstname": "Changed"})
    assert first.pk == second.pk
    assert Participation.objects.get().values["firstname"] == "Ada"


def test_a_second_participation_of_the_same_participant_is_refused(account):
    campaign = CampaignFactory(account=account)
    create(campaign, token="a" * 43)
    with pytest.raises(AlreadyParticipatedError):
        create(campaign, token="b" * 43)
    assert Participation.objects.count() == 1


def test_unlimited_campaigns_ignore_the_once_key(account):
    campaign = CampaignFactory(account=account, participation_limit=ParticipationLimit.UNLIMITED)
    create(campaign, token="a" * 43)
    create(campaign, token="b" * 43)
    assert list(Participation.objects.values_list("once_key", flat=True)) == [None, None]


def test_the_once_rule_is_per_campaign(account):
    create(CampaignFactory(account=account), token="a" * 43)
    create(CampaignFactory(account=account), token="b" * 43)
    assert Participation.objects.count() == 2
