import json
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from demo.webhook_receiver import receiver_running
from tests.core.deep_json import TOO_DEEP

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PAYLOAD = {
    "type": "profile.updated",
    "timestamp": "2026-11-27T12:00:00Z",
    "data": {"participant": "p_1", "changes": {"city": ["Bruxelles", "Liège"]}},
}


@pytest.fixture
def receiver(tmp_path):
    """Start a receiver (checking SECRET by default) on a free loopback port, in a thread."""
    with ExitStack() as stack:

        def start(*, secret=SECRET, status=204):
            return stack.enter_context(
                receiver_running(
                    secret=secret, log_file=tmp_path / "events.jsonl", answer_status=status
                )
            )

        yield start


def _signed_headers(body: str, *, secret=SECRET, msg_id="msg_2Kj3"):
    now = datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
    }


def _events(server):
    return server.events()


def test_signed_post_is_verified_logged_and_answered_204(receiver, capsys):
    server = receiver()
    body = json.dumps(PAYLOAD)

    response = requests.post(server.url, data=body, headers=_signed_headers(body), timeout=5)

    assert response.status_code == 204
    [event] = _events(server)
    assert event["type"] == "profile.updated"
    assert event["webhook_id"] == "msg_2Kj3"
    assert event["verified"] is True
    assert event["body"] == PAYLOAD
    line = capsys.readouterr().out
    assert "profile.updated  id=msg_2Kj3  verified: yes" in line


def test_signature_made_with_another_secret_is_logged_as_not_verified(receiver):
    server = receiver()
    body = json.dumps(PAYLOAD)
    headers = _signed_headers(body, secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB")

    response = requests.post(server.url, data=body, headers=headers, timeout=5)

    assert response.status_code == 204
    [event] = _events(server)
    assert event["verified"] is False
    assert "signature" in event["error"].lower()


def test_tampered_body_and_malformed_header_are_not_verified(receiver):
    server = receiver()
    body = json.dumps(PAYLOAD)
    headers = _signed_headers(body)
    requests.post(server.url, data=body.replace("Bruxelles", "Namur"), headers=headers, timeout=5)
    requests.post(
        server.url, data=body, headers={**headers, "webhook-signature": "garbage"}, timeout=5
    )

    assert [event["verified"] for event in _events(server)] == [False, False]


def test_without_a_secret_signatures_are_not_checked(receiver):
    server = receiver(secret="")
    requests.post(server.url, json=PAYLOAD, timeout=5)

    [event] = _events(server)
    assert event["verified"] is None
    assert event["type"] == "profile.updated"


def test_status_option_lets_the_sender_see_failures(receiver):
    server = receiver(status=503)

    response = requests.post(server.url, json=PAYLOAD, timeout=5)

    assert response.status_code == 503
    assert len(_events(server)) == 1


def test_get_shows_recent_events_as_plain_text(receiver):
    server = receiver()
    assert "No webhook received yet" in requests.get(server.url, timeout=5).text
    body = json.dumps({"type": "participation.created", "data": {"note": "<script>"}})
    requests.post(server.url, data=body, headers=_signed_headers(body), timeout=5)

    response = requests.get(server.url, timeout=5)

    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert '"type":"participation.created"' in response.text


def test_oversized_body_is_refused_and_not_logged(receiver):
    server = receiver()
    response = requests.post(server.url, data=b"x" * (1024 * 1024 + 1), timeout=5)

    assert response.status_code == 413
    assert not server.event_log.path.exists()


@pytest.mark.parametrize("body", TOO_DEEP)
def test_a_body_nested_too_deeply_is_answered_and_logged_as_text(receiver, body):
    server = receiver()
    response = requests.post(server.url, data=body, headers=_signed_headers(body), timeout=5)

    assert response.status_code == 204
    [event] = _events(server)
    assert (event["type"], event["verified"], event["body"]) == ("", True, body)


def test_wait_for_event_returns_the_event_or_times_out(receiver):
    server = receiver()
    body = json.dumps(PAYLOAD)
    requests.post(server.url, data=body, headers=_signed_headers(body), timeout=5)

    assert server.wait_for_event("profile.updated", timeout=2)["verified"] is True
    with pytest.raises(TimeoutError, match="no participation.created event"):
        server.wait_for_event("participation.created", timeout=0.2)
