import pytest
from django.test import RequestFactory
from django.urls import reverse

from participants.prefill import prefill_set
from tests.factories import make_form_campaign
from tests.participants.participant_data import world  # noqa: F401  (erasure and export tests)

IDP_VALUES = {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@idp.example"}


@pytest.fixture
def campaign(account):
    return make_form_campaign(account=account, title="Summer contest", slug="summer")


def page_url(name: str, campaign, **query) -> str:
    """The path of the campaign's public page `name`, with `query` after it."""
    url = reverse(f"participants:{name}", args=[campaign.slug])
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def form_url(campaign, **query):
    return page_url("form", campaign, **query)


def landing_url(campaign, **query):
    return page_url("landing", campaign, **query)


def form_token(response) -> str:
    """The one-time token of the form a GET served."""
    return hidden_value(response, "form_token")


def hidden_value(response, name: str) -> str:
    """The value of the page's (first) hidden field `name`, as the browser would send it."""
    marker = f'name="{name}" value="'
    start = response.text.index(marker) + len(marker)
    return response.text[start : response.text.index('"', start)]


def answers(token, **values):
    data = {
        "form_token": token,
        "f-firstname": "Ada",
        "f-lastname": "Lovelace",
        "f-email": "ada@example.com",
    }
    data.update({f"f-{k}": v for k, v in values.items()})
    return data


def log_in(client, campaign, participant, values=None, targets=()):
    """What the SSO callback does: keep the IdP's values in the participant's session.

    `targets`: further variables the mapping asked the IdP for, which it had no value for.
    """
    request = RequestFactory().get("/")
    request.session = client.session
    prefill_set(
        request,
        campaign,
        participant_id=participant.pk,
        values=IDP_VALUES if values is None else values,
        integration_name="Acme ID",
        targets=targets,
    )
    request.session.save()
