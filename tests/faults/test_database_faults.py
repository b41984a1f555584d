"""The database is briefly unavailable while a participant submits the form.

The failure is injected at the database boundary with Django's `connection.execute_wrapper`
(what a locked SQLite file or a PostgreSQL restart raises: OperationalError on the insert), on
both engines alike. The participant gets the form back with their answers and a 503; nothing is
stored; submitting again (same one-time token) stores the participation exactly once.
"""

import pytest
from django.db import OperationalError, connection

from participants.models import Participation
from tests.factories import ParticipantFactory
from tests.participants.conftest import answers, form_token, form_url
from tests.participants.conftest import log_in as prefill_log_in


class _ParticipationInsertFails:
    def __init__(self) -> None:
        self.refused = 0

    def __call__(self, execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and "participants_participation" in sql:
            self.refused += 1
            raise OperationalError("database is locked")
        return execute(sql, params, many, context)


@pytest.mark.parametrize("logged_in", [False, True])
def test_a_submit_while_the_database_is_unavailable_gets_a_retry_page(
    client, campaign, account, logged_in
):
    if logged_in:
        prefill_log_in(client, campaign, ParticipantFactory(account=account))
    token = form_token(client.get(form_url(campaign)))
    data = answers(token, lastname="Byron", phone="+32470123456")

    failing = _ParticipationInsertFails()
    with connection.execute_wrapper(failing):
        response = client.post(form_url(campaign), data)

    assert failing.refused == 1
    assert response.status_code == 503
    assert "We could not save your answers just now" in response.text
    # Their input is kept, with the same one-time token.
    assert 'value="Byron"' in response.text
    assert 'value="+32470123456"' in response.text
    assert form_token(response) == token
    assert not Participation.objects.exists()

    # The database is back: the same submission goes through, once.
    again = client.post(form_url(campaign), data)
    assert again.status_code == 303
    assert client.post(form_url(campaign), data).status_code == 303  # a double click
    participation = Participation.objects.get()
    assert participation.values["lastname"] == "Byron"
    assert participation.submission_token == token


def test_the_retry_page_is_in_the_participants_language(client, campaign):
    token = form_token(client.get(form_url(campaign, lang="fr")))
    with connection.execute_wrapper(_ParticipationInsertFails()):
        response = client.post(form_url(campaign, lang="fr"), answers(token))
    assert response.status_code == 503
    assert "Nous n’avons pas pu enregistrer vos réponses" in response.text
