"""Log records as one JSON object per line, with secrets redacted before any handler sees them.

Wired in `config/settings.py` (`LOG_FORMAT=json|plain`) and in `config/gunicorn.conf.py` (the
access log). Standard library only: a log line is a dict dumped with `json.dumps`, nothing more
is needed.
"""

import contextvars
import datetime
import json
import logging
import re
from collections.abc import Mapping

# Keys whose values never reach a log line, whether they come as `extra={...}` fields (at any
# depth) or as `key=value` / `key: value` / `"key": "value"` inside the message.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "api_key",
        "authorization",
        "client_secret",
        "code",
        "code_verifier",
        "cookie",
        "id_token",
        "password",
        "refresh_token",
        "secret",
        "sessionid",
        "token",
    }
)
REDACTED = "[redacted]"

_SECRET_KEY_NAMES = "|".join(sorted(map(re.escape, SECRET_KEYS), key=len, reverse=True))
_SECRET_IN_TEXT = re.compile(
    r"(?i)(?<![\w-])(?P<key>" + _SECRET_KEY_NAMES + r")"  # a key, not the tail of a longer word
    r"(?P<sep>[\"']?\s*[=:]\s*[\"']?)"  # = or :, maybe quoted (query strings, headers, JSON)
    r"(?P<scheme>(?:bearer|basic)\s+)?"  # Authorization: Bearer <value>
    r"(?P<value>[^\s&\"',;})\]]+)"
)


def secret_key_is(name: str) -> bool:
    """Whether a field of that name holds a secret (`webhook_secret` and `csrf_token` do too)."""
    name = name.lower()
    return name in SECRET_KEYS or name.endswith(("_secret", "_token", "_password"))


def redact_text(text: str) -> str:
    return _SECRET_IN_TEXT.sub(
        lambda match: f"{match['key']}{match['sep']}{match['scheme'] or ''}{REDACTED}", text
    )


def redact_value(value, *, key: str = ""):
    if key and secret_key_is(key):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: redact_value(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


# The attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys() | {"message", "asctime"}
)


def record_extra(record: logging.LogRecord) -> dict:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}


class RedactSecretsFilter(logging.Filter):
    """Rewrite the record in place: message, `extra` fields and exception text.

    Attach it to handlers, not loggers: a logger's filters are skipped for records that
    propagate to it from child loggers, a handler's filters see every record it writes.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_secrets_redacted", False):
            return True
        try:
            message = record.getMessage()
        # A filter runs outside logging's own error handling: a message whose arguments do not
        # fit its format must not crash the caller. The formatter will report it.
        except Exception:
            message = None
        if message is not None:
            record.msg = redact_text(message)
            record.args = ()
        for key, value in record_extra(record).items():
            setattr(record, key, redact_value(value, key=key))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        record._secrets_redacted = True
        return True


# The id of the request being served in this thread, set by `config.request_id`.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "current_request_id", default=None
)


class RequestIdFilter(logging.Filter):
    """Stamp every record written while serving a request with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id.get()
        if request_id and not getattr(record, "request_id", None):
            record.request_id = request_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record_extra(record).items():
            if key.startswith("_"):
                continue
            entry[key] = _jsonable(key, value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def _jsonable(key: str, value):
    # django.request logs the HttpRequest itself; its repr carries the query string, which on
    # the OAuth callback holds the authorization code. Keep the method and the path only.
    if key == "request" and hasattr(value, "method") and hasattr(value, "path"):
        return {"method": value.method, "path": value.path}
    return value


class QuietStaticFilesFilter(logging.Filter):
    """Drops the development server's line for each static file served well (`make run`):
    hundreds a minute in the admin, burying the lines that matter. Failed ones (404) stay."""

    def __init__(self, static_url: str = "/static/") -> None:
        super().__init__()
        self.static_path = "/" + static_url.strip("/") + "/"

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) < 2:
            return True
        request_line, status = str(args[0]), str(args[1])
        parts = request_line.split(" ")
        path = parts[1] if len(parts) > 1 else ""
        return not (path.startswith(self.static_path) and status[:1] in ("2", "3"))
