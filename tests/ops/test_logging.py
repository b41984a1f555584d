import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from config.logging import REDACTED, JsonFormatter, RedactSecretsFilter, redact_text

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_log():
    """A logger writing JSON lines, through the redaction filter, into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.ops.json")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield logger, lines
    logger.removeHandler(handler)


def test_json_line_has_time_level_logger_message_and_extra_fields(json_log):
    logger, lines = json_log
    logger.warning(
        "Token exchange failed for %s",
        "campaign-1",
        extra={"error_reference": "E-7F3A", "step": "token", "account_id": 12},
    )
    [entry] = lines()
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tests.ops.json"
    assert entry["message"] == "Token exchange failed for campaign-1"
    assert entry["time"].endswith("+00:00")
    assert entry["error_reference"] == "E-7F3A"
    assert entry["step"] == "token"
    assert entry["account_id"] == 12


def test_json_line_is_one_line_even_with_newlines_and_exceptions(json_log):
    logger, lines = json_log
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        logger.exception("Failed\nbadly")
    [entry] = lines()
    assert entry["message"] == "Failed\nbadly"
    assert "RuntimeError: boom" in entry["exception"]


def test_values_that_json_cannot_hold_are_written_as_text(json_log):
    logger, lines = json_log
    logger.info("odd", extra={"when": object.__new__(type("Thing", (), {}))})
    [entry] = lines()
    assert "Thing object" in entry["when"]


def test_secret_fields_in_extra_are_redacted_at_any_depth(json_log):
    logger, lines = json_log
    logger.info(
        "Token response",
        extra={
            "client_secret": "s3cr3t",
            "token_response": {
                "access_token": "at-123",
                "id_token": "eyJ.x.y",
                "refresh_token": "rt-1",
                "token_type": "Bearer",
                "scope": "openid email",
            },
            "headers": {"Authorization": "Basic Y2xpZW50OnNlY3JldA=="},
            "webhook_secret": "whsec_abc",
            "step": "token",
        },
    )
    [entry] = lines()
    text = json.dumps(entry)
    for secret in ("s3cr3t", "at-123", "eyJ.x.y", "rt-1", "Y2xpZW50OnNlY3JldA", "whsec_abc"):
        assert secret not in text
    assert entry["client_secret"] == REDACTED
    assert entry["token_response"]["scope"] == "openid email"
    assert entry["token_response"]["token_type"] == "Bearer"
    assert entry["step"] == "token"


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("callback with code=SplxlOBeZQQYbYS6WxSbIA&state=af0ifjsldkj", "SplxlOBeZQQYbYS6WxSbIA"),
        ("POST body grant_type=authorization_code&code=abc123&client_secret=xyz", "xyz"),
        ("POST body grant_type=authorization_code&code=abc123&client_secret=xyz", "abc123"),
        ('token response {"access_token": "ya29.a0Af", "expires_in": 3599}', "ya29.a0Af"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ("login failed password='hunter2'", "hunter2"),
        ("refresh_token: rt-abc id_token=eyJ.a.b", "rt-abc"),
        ("refresh_token: rt-abc id_token=eyJ.a.b", "eyJ.a.b"),
    ],
)
def test_secrets_in_the_message_are_redacted(json_log, message, secret):
    logger, lines = json_log
    logger.info(message)
    [entry] = lines()
    assert secret not in entry["message"]
    assert REDACTED in entry["message"]


def test_secrets_in_message_arguments_and_exceptions_are_redacted(json_log):
    logger, lines = json_log
    try:
        raise ValueError("bad response: access_token=at-in-exception")
    except ValueError:
        logger.exception("Exchange with %s failed", "client_secret=argument-secret")
    [entry] = lines()
    assert "argument-secret" not in entry["message"]
    assert "at-in-exception" not in entry["exception"]


def test_a_message_whose_arguments_do_not_fit_does_not_raise_at_the_caller(capsys):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.ops.broken")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        # A filter runs outside logging's error handling: had it let the TypeError out, this
        # call would raise in the middle of a login.
        logger.error("two %s %s", "one")
        logger.error("then %s", "the next message")
    finally:
        logger.removeHandler(handler)
    # The broken call is reported where logging reports its own errors, and logging goes on.
    report = capsys.readouterr().err
    assert "--- Logging error ---" in report
    assert "not enough arguments for format string" in report
    assert stream.getvalue() == "then the next message\n"


def test_words_that_merely_contain_a_secret_key_are_kept():
    text = "status_code=502 error_code=invalid_grant tokens_left=3 step=token"
    assert redact_text(text) == text


def test_the_request_of_django_request_logs_keeps_method_and_path_only(json_log, rf):
    logger, lines = json_log
    request = rf.get("/oauth/callback", {"code": "the-code", "state": "s"})
    logger.warning("Bad Request: %s", request.path, extra={"request": request, "status_code": 400})
    [entry] = lines()
    assert entry["request"] == {"method": "GET", "path": "/oauth/callback"}
    assert entry["status_code"] == 400
    assert "the-code" not in json.dumps(entry)


def test_production_settings_write_json_logs_without_secrets():
    environment = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "x" * 50,
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DATABASE_URL": "sqlite:///:memory:",
    }
    environment.pop("LOG_FORMAT", None)
    script = (
        "import django, logging; django.setup(); "
        "logging.getLogger('participants.views').error("
        "'exchange failed code=abc', extra={'error_reference': 'E-1', 'client_secret': 'zz'})"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    entry = json.loads(completed.stderr.strip().splitlines()[-1])
    assert entry["logger"] == "participants.views"
    assert entry["error_reference"] == "E-1"
    assert entry["client_secret"] == REDACTED
    assert entry["message"] == f"exchange failed code={REDACTED}"


def _server_record(request_line: str, status: str) -> logging.LogRecord:
    return logging.LogRecord(
        "django.server", logging.INFO, __file__, 1, '"%s" %s %s', (request_line, status, "9"), None
    )


@pytest.mark.parametrize(
    ("request_line", "status", "kept"),
    [
        ("GET /static/admin/css/base.css HTTP/1.1", "200", False),
        ("GET /static/css/public.css HTTP/1.1", "304", False),
        ("GET /static/missing.css HTTP/1.1", "404", True),
        ("GET /admin/ HTTP/1.1", "200", True),
        ("POST /c/summer/form/ HTTP/1.1", "303", True),
    ],
)
def test_the_development_server_logs_no_line_per_static_file(request_line, status, kept):
    # `make run`: the admin fetches dozens of files per page; those lines buried the rest.
    assert (
        bool(logging.getLogger("django.server").filter(_server_record(request_line, status)))
        is kept
    )
