"""gunicorn's logs in the same shape as the application's (`logger_class` in gunicorn.conf.py).

One record per request with the fields as `extra`, so that the JSON formatter writes real JSON
(gunicorn's own `access_log_format` only interpolates strings). The query string is left out:
on `/oauth/callback` it carries the authorization code.
"""

import environ
from gunicorn import glogging

from config.logging import JsonFormatter, RedactSecretsFilter

env = environ.Env()


def log_format() -> str:
    """LOG_FORMAT, with the same default as the settings: json unless DJANGO_DEBUG is on."""
    return env.str("LOG_FORMAT", default="plain" if env.bool("DJANGO_DEBUG", False) else "json")


class AccessLogger(glogging.Logger):
    def setup(self, cfg):
        super().setup(cfg)
        formatter = JsonFormatter() if log_format() == "json" else None
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if formatter is not None:
                    handler.setFormatter(formatter)
                handler.addFilter(RedactSecretsFilter())

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        response_headers = {name.lower(): value for name, value in resp.headers}
        duration_ms = round(request_time.total_seconds() * 1000, 1)
        method = environ.get("REQUEST_METHOD", "-")
        path = environ.get("PATH_INFO", "-")
        self.access_log.info(
            "%s %s %s %sms",
            method,
            path,
            status,
            duration_ms,
            extra={
                "method": method,
                "path": path,
                "status": int(status),
                "duration_ms": duration_ms,
                "bytes": getattr(resp, "sent", None),
                "remote_addr": environ.get("REMOTE_ADDR"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
                "request_id": response_headers.get("x-request-id"),
            },
        )
