"""A small local webhook receiver: logs what it gets and checks Standard Webhooks signatures.

    python -m demo.webhook_receiver --port 9100 --secret whsec_… --log-file .data/webhooks.jsonl

Each POST is printed as one line (event type, webhook-id, whether the signature verified, the
body in compact form) and appended as a JSON line to the log file, which tests and people can
read. It answers 204 (or `--status`, to watch the sender retry). GET / shows the last events as
plain text. The secret may also come from WEBHOOK_RECEIVER_SECRET (or DEMO_WEBHOOK_SECRET, which
`make run` puts in `.env`); without one, signatures are not checked ("verified: not checked").

Development only: it binds loopback by default and trusts nothing it receives.
"""

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from core.json_input import json_loads_bounded

DEFAULT_PORT = 9100
DEFAULT_LOG_FILE = Path(".data") / "webhook-events.jsonl"
# Larger bodies are refused: our payloads are a few KB.
MAX_BODY_BYTES = 1024 * 1024
# How many events GET / shows.
RECENT_EVENTS = 50


class ReceiverConfigurationError(Exception):
    """The receiver cannot check signatures as asked (e.g. standardwebhooks is missing)."""


def _verifier(secret: str):
    """A `standardwebhooks.Webhook` for the secret; imported late so that a receiver without a
    secret runs with the standard library alone."""
    try:
        from standardwebhooks.webhooks import Webhook
    except ImportError as error:  # pragma: no cover - depends on the install
        raise ReceiverConfigurationError(
            "Checking signatures needs the standardwebhooks package (pip install -e '.[demo]')."
        ) from error
    return Webhook(secret)


class EventLog:
    """Appends events as JSON lines; one lock so that concurrent requests don't interleave."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, event: dict) -> None:
        line = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        with self._lock, self.path.open("a", encoding="utf-8") as log:
            log.write(line + "\n")

    def recent(self, count: int = RECENT_EVENTS) -> list[str]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return lines[-count:]


def event_record(*, body: bytes, headers: dict[str, str], path: str, verifier) -> dict:
    """What we keep of one delivery: headers that identify it, the verdict and the body."""
    text = body.decode("utf-8", errors="replace")
    try:
        payload = json_loads_bounded(text)
    except ValueError:  # not JSON, or nested too deeply: kept as text
        payload = None
    verified: bool | None = None
    error = ""
    if verifier is not None:
        from standardwebhooks.webhooks import WebhookVerificationError

        try:
            verifier.verify(text, headers, json_parse=False)
            verified = True
        except WebhookVerificationError as failure:
            verified = False
            error = str(failure)
        except ValueError:
            # The library's parser raises bare ValueErrors on "v1" without a comma, bad base64…
            verified = False
            error = "malformed webhook-signature header"
    lowered = {key.lower(): value for key, value in headers.items()}
    return {
        "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "path": path,
        "type": payload.get("type", "") if isinstance(payload, dict) else "",
        "webhook_id": lowered.get("webhook-id", ""),
        "webhook_timestamp": lowered.get("webhook-timestamp", ""),
        "verified": verified,
        "error": error,
        "body": payload if payload is not None else text,
    }


def event_line(event: dict) -> str:
    """One line for the terminal."""
    verified = {True: "yes", False: "NO", None: "not checked"}[event["verified"]]
    if event["error"]:
        verified += f" ({event['error']})"
    body = json.dumps(event["body"], ensure_ascii=False, separators=(",", ":"))
    if len(body) > 500:
        body = body[:500] + "…"
    return (
        f"{event['type'] or '(no type)'}  id={event['webhook_id'] or '-'}  "
        f"verified: {verified}  {body}"
    )


class WebhookReceiverHandler(BaseHTTPRequestHandler):
    server_version = "DemoWebhookReceiver"
    # Set on the server: see `receiver_create`.
    server: "WebhookReceiverServer"

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        body = self.rfile.read(length)
        event = event_record(
            body=body,
            headers=dict(self.headers.items()),
            path=self.path,
            verifier=self.server.verifier,
        )
        self.server.event_log.append(event)
        print(event_line(event), flush=True)
        self.send_response(self.server.answer_status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path not in ("/", "/events"):
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        lines = self.server.event_log.recent()
        text = "\n".join(lines) if lines else "No webhook received yet."
        data = (text + "\n").encode("utf-8")
        self.send_response(HTTPStatus.OK)
        # Plain text and nosniff: event bodies are shown, never interpreted as HTML.
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args) -> None:
        # The event line says it all; the default access log would double every request.
        return


class WebhookReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, *, event_log: EventLog, verifier, answer_status: int) -> None:
        super().__init__(address, WebhookReceiverHandler)
        self.event_log = event_log
        self.verifier = verifier
        self.answer_status = answer_status

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def events(self) -> list[dict]:
        """Every event received so far, oldest first."""
        return [json.loads(line) for line in self.event_log.recent(count=10_000)]

    def wait_for_event(self, event_type: str, *, timeout: float = 10.0) -> dict:
        """The first event of this type; waits (bounded) for it to arrive."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events():
                if event["type"] == event_type:
                    return event
            if time.monotonic() >= deadline:
                seen = [event["type"] for event in self.events()]
                raise TimeoutError(f"no {event_type} event within {timeout}s (got {seen})")
            time.sleep(0.05)


def receiver_create(
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    secret: str = "",
    log_file: Path = DEFAULT_LOG_FILE,
    answer_status: int = HTTPStatus.NO_CONTENT,
) -> WebhookReceiverServer:
    """A bound, not yet serving receiver (port 0 picks a free port: see `server_address`)."""
    return WebhookReceiverServer(
        (host, port),
        event_log=EventLog(Path(log_file)),
        verifier=_verifier(secret) if secret else None,
        answer_status=int(answer_status),
    )


@contextmanager
def receiver_running(
    *,
    log_file: Path,
    secret: str = "",
    port: int = 0,
    answer_status: int = HTTPStatus.NO_CONTENT,
) -> Iterator[WebhookReceiverServer]:
    """A receiver serving in a thread (tests): port 0 picks a free one, see `server.url`."""
    server = receiver_create(
        port=port, secret=secret, log_file=log_file, answer_status=answer_status
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("WEBHOOK_RECEIVER_PORT", DEFAULT_PORT))
    )
    parser.add_argument(
        "--secret",
        default=os.environ.get("WEBHOOK_RECEIVER_SECRET")
        or os.environ.get("DEMO_WEBHOOK_SECRET", ""),
        help="whsec_… signing secret (default: WEBHOOK_RECEIVER_SECRET or DEMO_WEBHOOK_SECRET)",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=Path(os.environ.get("WEBHOOK_RECEIVER_LOG") or DEFAULT_LOG_FILE),
        help=f"JSON lines file the events are appended to (default {DEFAULT_LOG_FILE})",
    )
    parser.add_argument(
        "--status", type=int, default=HTTPStatus.NO_CONTENT, help="HTTP status to answer"
    )
    options = parser.parse_args(argv)
    try:
        server = receiver_create(
            host=options.host,
            port=options.port,
            secret=options.secret,
            log_file=options.log_file,
            answer_status=options.status,
        )
    except ReceiverConfigurationError as error:
        print(error, file=sys.stderr)
        return 2
    checking = "checking signatures" if options.secret else "NOT checking signatures (no secret)"
    print(
        f"Listening on http://{options.host}:{server.server_address[1]}/, {checking}, "
        f"appending to {options.log_file}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
