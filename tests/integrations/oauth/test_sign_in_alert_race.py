"""Sign-in alerts under concurrency (PostgreSQL): many web processes failing the same way at
once count every failure and send one e-mail."""

import threading

import pytest
from django.core import mail
from django.db import connection, connections

from accounts.models import Role
from integrations.models import SignInAlert
from integrations.oauth.alerts import sign_in_alert_raise
from tests.factories import OAuthIntegrationFactory, make_member

RACERS = 8

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers"),
    pytest.mark.django_db(transaction=True),
]


def test_failures_racing_for_a_new_alert_are_all_counted_and_told_once(account):
    make_member(account, Role.ADMINISTRATOR, username="admin-a")
    integration = OAuthIntegrationFactory(account=account)
    start = threading.Barrier(RACERS)
    errors: list[Exception] = []

    def racer(number: int):
        try:
            start.wait(timeout=10)
            sign_in_alert_raise(
                integration_id=integration.pk, error_code="invalid_client", reference=f"R{number}"
            )
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    alert = SignInAlert.objects.get(integration=integration)
    assert alert.failures == RACERS
    assert len(mail.outbox) == 1
