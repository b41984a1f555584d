"""Shared by the webhook tests: endpoints, participation data, a loopback receiver."""

import contextlib
import http.server
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import jsonschema

from integrations.models import WebhookEndpoint, WebhookEvent
from integrations.webhooks.payloads import SCHEMA_PATH
from integrations.webhooks.signing import secret_generate
from tests.local_server import QuietHandler, serving

IMMEDIATE_TASKS = {
    "default": {
        "BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
        "QUEUES": ["default", "webhooks"],
    }
}
# Tasks are queued and never run: a test runs the one it means to.
DUMMY_TASKS = {
    "default": {
        "BACKEND": "django_tasks.backends.dummy.DummyBackend",
        "QUEUES": ["default", "webhooks"],
    }
}
HOOK_URL = "https://hooks.example.com/campaign-sso"
ALL_EVENTS = [WebhookEvent.PARTICIPATION_CREATED, WebhookEvent.PROFILE_UPDATED]

_validator = jsonschema.Draft202012Validator(
    json.loads(Path(SCHEMA_PATH).read_text()), format_checker=jsonschema.FormatChecker()
)


def assert_valid_event(payload: dict) -> None:
    _validator.validate(payload)


def make_endpoint(account, *, url=HOOK_URL, events=None, **fields) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        account=account,
        url=url,
        events=list(ALL_EVENTS if events is None else events),
        secret=fields.pop("secret", None) or secret_generate(),
        **fields,
    )


def participation_data(**overrides) -> dict:
    data = {
        "id": 42,
        "submitted_at": datetime(2026, 11, 27, 10, 30, 5, tzinfo=UTC),
        "campaign": {"id": 7, "slug": "summer-contest", "title": "Summer contest"},
        "participant": {
            "subject": "248289761001",
            "issuer": "https://idp.example.com",
            "integration_id": 3,
        },
        "values": {
            "firstname": "Jane",
            "lastname": "Doe",
            "email": "jane@example.com",
            "optin_newsletter": True,
        },
        "prefilled": {"firstname": "Janet", "lastname": "Doe", "email": "jane@example.com"},
        "changed": ["firstname"],
    }
    data.update(overrides)
    return data


class Receiver:
    """An HTTP server on 127.0.0.1 that records what it receives and answers `status`."""

    def __init__(self, *, status: int = 204, body: bytes = b"", headers: dict | None = None):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.requests: list[tuple[dict, bytes]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    receiver.requests.append((headers, body))
                    status = receiver.status
                self.send_response(status)
                for name, value in receiver.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(receiver.body)))
                self.end_headers()
                self.wfile.write(receiver.body)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._running = contextlib.ExitStack()

    def __enter__(self) -> "Receiver":
        self.url = f"{self._running.enter_context(serving(self._server))}/hook"
        return self

    def __exit__(self, *exc_info) -> None:
        self._running.close()
