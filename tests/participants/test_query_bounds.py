"""Each step of the participant journey runs a constant number of SQL queries.

The same journey on a campaign with 7 fields and on one with 22 fields (and as many mapping
rules) must cost the same number of queries, under a fixed bound per step: a query per field
or per rule would show up here before it shows up in production.
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from campaigns.models import CampaignField, FieldType
from integrations.models import MappingRule
from tests.idp_stub import IdPStub
from tests.participants.conftest import answers, form_token, form_url
from tests.participants.login.sso_flow import (
    callback,
    idp_answers,
    login_start,
    make_sso_campaign,
    mock,
)

# What each step needs today, on both engines, once the campaign and its integration are in the
# process's cache (campaigns/lookup.py); a step needing more has grown a query (or an N+1).
# Counted inside the test's transaction, so `atomic` blocks show as SAVEPOINT/RELEASE pairs (in
# production they are a BEGIN/COMMIT the connection does not log). The callback's 9: the
# attempt (one table), its claim, the participant, the attempt's success, the sign-in alert's
# end (an UPDATE that mostly finds none; it replaced a six-table join), the remembered login
# and the session (three with its savepoint).
BOUNDS = {"login_start": 1, "callback": 9, "form": 2, "submit": 9}
EXTRA_FIELDS = 15


@pytest.fixture(autouse=True)
def _production_cache(redis_cache, settings):
    """Counted as in production: a shared Redis cache fronts the database sessions
    (config/settings.py) and keeps the campaign between a process's requests (with a
    per-process cache, campaigns/lookup.py keeps it only a second)."""
    settings.SESSION_ENGINE = "config.sessions.cached_db"


def journey_queries(campaign, *, subject: str) -> tuple[dict[str, int], dict[str, list[str]]]:
    """(queries per step, their SQL) for one participant's journey through the campaign."""
    client = Client()
    counts, statements = {}, {}
    idp = IdPStub()

    def counted(step, call):
        with CaptureQueriesContext(connection) as queries:
            response = call()
        counts[step] = len(queries)
        statements[step] = [q["sql"] for q in queries.captured_queries]
        return response

    # The participant arrives on the landing page, which also loads the campaign into this
    # process's cache (campaigns/lookup.py); the cold load is counted on its own below.
    assert client.get(campaign.get_absolute_url()).status_code == 200
    started = counted("login_start", lambda: login_start(client, campaign))
    with mock() as rsps:
        claims = {"sub": subject, "given_name": "Ada", "email": "ada@idp.example"}
        idp_answers(rsps, idp, started, claims=claims)
        response = counted("callback", lambda: callback(client, started))
    assert response.status_code == 303, response.status_code
    form = counted("form", lambda: client.get(form_url(campaign)))
    assert form.status_code == 200
    data = answers(form_token(form), **{f"extra_{n}": "x" for n in range(EXTRA_FIELDS)})
    submitted = counted("submit", lambda: client.post(form_url(campaign), data))
    assert submitted.status_code == 303, submitted.status_code
    return counts, statements


def _add_fields(campaign, integration, count):
    for number in range(count):
        variable = f"extra_{number}"
        CampaignField.objects.create(
            campaign=campaign,
            variable=variable,
            field_type=FieldType.TEXT,
            label_en=f"Extra {number}",
            label_fr=f"Extra {number}",
            position=100 + number,
        )
        MappingRule.objects.create(
            integration=integration,
            target=variable,
            source=f"extra_{number}",
            position=100 + number,
        )


@pytest.mark.parametrize("extra_fields", [0, EXTRA_FIELDS])
def test_every_step_runs_a_bounded_number_of_queries(account, extra_fields):
    campaign, integration = make_sso_campaign(account)
    _add_fields(campaign, integration, extra_fields)
    # A first participant's journey loads what each process keeps (the campaign by its slug
    # and by its id, the integration, the mapping): the steady state is the next one's.
    journey_queries(campaign, subject="user-0")
    counts, statements = journey_queries(campaign, subject="user-1")
    for step, bound in BOUNDS.items():
        assert counts[step] <= bound, (step, counts[step], statements[step])


def test_the_query_count_does_not_grow_with_the_fields(account):
    campaign, integration = make_sso_campaign(account)
    few, _ = journey_queries(campaign, subject="user-1")
    _add_fields(campaign, integration, EXTRA_FIELDS)
    many, _ = journey_queries(campaign, subject="user-2")
    assert many == few
