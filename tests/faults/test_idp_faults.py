"""The IdP fails in every way we know of; each ends on a page for people, quickly, with no 500.

Real loopback servers (tests/faults/servers.py): a token endpoint that hangs, refuses, answers
500/503, HTML, 50 MB or JSON nested 10 000 deep; a JWKS endpoint that is down with a warm or a
cold key cache. After each fault, the next login once the IdP is back succeeds: nothing is stuck.
"""

import time

import pytest
from django.test import Client

from participants.models import AttemptOutcome, LoginAttempt, Participant
from tests.faults.conftest import READ_TIMEOUT, log_in
from tests.faults.servers import HUGE_BODY_BYTES, closed_port, silent_port


def assert_failed_page(response, *, status, code, text):
    assert response.status_code == status, response.status_code
    assert text in response.text
    assert "Traceback" not in response.text
    attempt = LoginAttempt.objects.latest("pk")
    assert attempt.outcome == AttemptOutcome.FAILED
    assert (attempt.failed_step, attempt.error_code) == ("token", code)
    assert attempt.error_reference in response.text


def assert_recovers(campaign, idp):
    """A new participant logs in normally once the IdP answers again."""
    idp.token = idp.jwks = "ok"
    response = log_in(Client(), campaign, idp)
    assert response.status_code == 303, response.status_code
    assert Participant.objects.count() == 1


# ---------------------------------------------------------------------------- token endpoint
def test_a_hanging_token_endpoint_ends_on_the_timeout_page_after_the_read_timeout(
    client, campaign, idp
):
    idp.token = "hang"
    started = time.monotonic()
    response = log_in(client, campaign, idp)
    elapsed = time.monotonic() - started
    assert_failed_page(response, status=504, code="token_timeout", text="did not answer in time")
    assert READ_TIMEOUT <= elapsed < READ_TIMEOUT + 3
    assert not Participant.objects.exists()
    assert_recovers(campaign, idp)


def test_a_token_endpoint_that_accepts_and_never_answers_is_a_timeout(
    client, campaign, integration
):
    with silent_port() as port:
        integration.token_endpoint = f"http://127.0.0.1:{port}/token"
        integration.save()
        started = time.monotonic()
        response = log_in(client, campaign, idp=_NoIdP())
    assert time.monotonic() - started < READ_TIMEOUT + 3
    assert_failed_page(response, status=504, code="token_timeout", text="did not answer in time")


def test_a_refused_token_endpoint_gives_the_try_again_page(client, campaign, integration, idp):
    integration.token_endpoint = f"http://127.0.0.1:{closed_port()}/token"
    integration.save()
    response = log_in(client, campaign, idp)
    assert_failed_page(response, status=503, code="token_connection", text="Please try again")
    assert "log in again" in response.text.lower() or "try again" in response.text.lower()


@pytest.mark.parametrize("status", [500, 503])
def test_a_token_endpoint_server_error_gives_the_try_again_page(client, campaign, idp, status):
    idp.token = status
    response = log_in(client, campaign, idp)
    assert_failed_page(response, status=503, code="token_http", text="Please try again")
    assert idp.calls["token"] == 1  # a POST that may have reached the IdP is never repeated
    assert_recovers(campaign, idp)


def test_a_token_endpoint_answering_html_is_a_provider_problem(client, campaign, idp):
    idp.token = "garbage"
    response = log_in(client, campaign, idp)
    assert_failed_page(response, status=502, code="token_invalid_json", text="refused the request")
    assert "Service temporarily unavailable" not in response.text  # nothing of the body echoed
    assert_recovers(campaign, idp)


def test_a_token_answer_nested_too_deeply_is_a_provider_problem(client, campaign, idp):
    idp.token = "deep"
    response = log_in(client, campaign, idp)
    assert_failed_page(response, status=502, code="token_too_deep", text="refused the request")
    assert_recovers(campaign, idp)


def test_a_50_mb_token_answer_is_cut_off_early(client, campaign, idp):
    idp.token = "huge"
    started = time.monotonic()
    response = log_in(client, campaign, idp)
    assert time.monotonic() - started < 5
    assert_failed_page(response, status=502, code="token_too_large", text="refused the request")
    # The body cap (1 MB) stopped the reading: the server could only fill the socket buffers.
    assert idp.huge_bytes_sent < HUGE_BODY_BYTES // 2
    assert_recovers(campaign, idp)


# ---------------------------------------------------------------------------- JWKS
def test_jwks_down_with_a_warm_cache_logins_go_on(client, campaign, idp):
    assert log_in(client, campaign, idp).status_code == 303  # fetches and caches the keys
    idp.jwks = 503
    response = log_in(Client(), campaign, idp)
    assert response.status_code == 303, response.status_code
    assert idp.calls["jwks"] == 1
    assert LoginAttempt.objects.filter(outcome=AttemptOutcome.SUCCESS).count() == 2


@pytest.mark.parametrize("jwks", [503, "hang", "garbage"])
def test_jwks_down_with_a_cold_cache_gives_a_retryable_page(client, campaign, idp, jwks):
    idp.jwks = jwks
    started = time.monotonic()
    response = log_in(client, campaign, idp)
    assert time.monotonic() - started < READ_TIMEOUT + 3
    assert response.status_code == 503, response.status_code
    assert "Please try again" in response.text
    assert "Try again" in response.text or "/login/" in response.text  # the retry link
    attempt = LoginAttempt.objects.get()
    assert (attempt.failed_step, attempt.error_code) == ("id_token", "jwks_unavailable")
    assert not Participant.objects.exists()
    assert_recovers(campaign, idp)


class _NoIdP:
    """For tests whose token endpoint is not a LoopbackIdP: the nonce goes nowhere."""

    nonce = None
