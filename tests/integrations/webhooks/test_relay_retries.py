"""`relay_webhooks` outlives a database or Redis outage: a failed pass is retried with back-off,
and the relay goes on as usual once a pass succeeds."""

import logging

import pytest
import redis.exceptions
from django.core.management import call_command
from django.db import InterfaceError, OperationalError

from integrations.management.commands import relay_webhooks
from integrations.webhooks.attempts import DeliveryOutcome


class _Stop(BaseException):
    """Ends the relay's endless loop from the test."""


@pytest.fixture
def sleeps(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(relay_webhooks.time, "sleep", slept.append)
    # No database here: the passes are stand-ins. Dropping the connections after a failed pass
    # runs for real (it closes whatever connection this process holds; the next test reopens it).
    monkeypatch.setattr(relay_webhooks, "close_old_connections", lambda: None)
    return slept


def _passes(monkeypatch, outcomes):
    """The relay's passes answer `outcomes` in turn (an exception is raised), then stop it."""
    calls = iter(outcomes)

    def deliveries_relay(**kwargs):
        outcome = next(calls, _Stop())
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    monkeypatch.setattr(relay_webhooks, "deliveries_relay", deliveries_relay)


def test_failed_passes_are_retried_with_back_off_then_the_relay_goes_on(
    monkeypatch, sleeps, caplog
):
    _passes(
        monkeypatch,
        [
            OperationalError("server closed the connection unexpectedly"),
            InterfaceError("connection already closed"),
            redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
            OperationalError("the database system is starting up"),
            {DeliveryOutcome.DELIVERED: 3},
            {},
        ],
    )
    with caplog.at_level(logging.WARNING), pytest.raises(_Stop):
        call_command("relay_webhooks", "--interval", "30", verbosity=0)
    # 1, 2, 4, 8 s after failures in a row, then the usual interval after each good pass.
    assert sleeps == [1, 2, 4, 8, 30, 30]
    failures = [r for r in caplog.records if "relay pass failed" in r.getMessage()]
    assert len(failures) == 4
    assert any("succeed again" in r.getMessage() for r in caplog.records)


def test_the_back_off_never_waits_longer_than_the_interval(monkeypatch, sleeps):
    _passes(monkeypatch, [OperationalError("down")] * 8)
    with pytest.raises(_Stop):
        call_command("relay_webhooks", "--interval", "10", verbosity=0)
    assert sleeps == [1, 2, 4, 8, 10, 10, 10, 10]


def test_a_single_pass_reports_the_failure(monkeypatch, sleeps):
    _passes(monkeypatch, [OperationalError("down")])
    with pytest.raises(OperationalError):
        call_command("relay_webhooks", "--once", verbosity=0)
    assert sleeps == []
