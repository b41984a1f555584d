"""Campaign SSO settings: one module, read from the environment through django-environ.

Every variable is documented in `.env.example`. Required values have no default in production;
a missing one stops start-up with a message naming it.
"""

import re
from pathlib import Path

import environ
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local `.env` (written by `make run`, never committed) fills what the real environment lacks.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _required(name: str, *, debug_default: str | None = None) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG and debug_default is not None:
        return debug_default
    raise ImproperlyConfigured(f"The environment variable {name} is required (see .env.example).")


def _rate(name: str, default: str) -> str:
    # Checked here so that a typo stops start-up instead of failing every login.
    value = env.str(name, default=default)
    if not re.fullmatch(r"\s*[1-9]\d*\s*/\s*([1-9]\d*)?\s*[smhd]\s*", value):
        raise ImproperlyConfigured(f"{name} must be a rate like 30/m or 100/10m, not {value!r}.")
    return value


# ---------------------------------------------------------------------------- core
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = _required("DJANGO_SECRET_KEY", debug_default="insecure-development-only-key")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The product's name in the admin's header, page titles and the site's home page.
PRODUCT_NAME = env.str("PRODUCT_NAME", default="Campaign SSO")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])

# E-mail to the accounts' administrators (sign-in alerts, a disabled webhook). EMAIL_URL as
# django-environ reads it, e.g. smtp+tls://user:password@smtp.example.com:587. Unset or empty:
# in debug each e-mail is written to the console (the demo's log), otherwise to a local MTA on
# port 25. A URL it cannot read stops start-up (its message never holds the password).
_EMAIL_URL = env.str("EMAIL_URL", default="") or (
    "consolemail://" if DEBUG else "smtp://:@localhost:25"
)
try:
    vars().update(environ.Env.email_url_config(_EMAIL_URL))
except ImproperlyConfigured as exc:
    raise ImproperlyConfigured(
        f"EMAIL_URL: {exc}. Expected smtp://, smtp+tls://, smtp+ssl:// or consolemail://, e.g. "
        "smtp+tls://user:password@smtp.example.com:587."
    ) from None
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Campaign SSO <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

INSTALLED_APPS = [
    # Django's admin with our site (config/admin_site.py): the product's name, the dashboard.
    "config.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "csp",
    "accounts",
    "integrations",
    "campaigns",
    "participants",
    # `manage.py seed_demo`: the demo's account, campaign and development IdP client.
    "demo",
]

MIDDLEWARE = [
    # First, so that every log line written while serving a request carries its id.
    "config.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's, except that a session the database cannot save on a participant page never
    # turns a stored participation into an error (participants/outage.py).
    "participants.outage.SessionMiddleware",
    "config.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.csp.CSPMiddleware",
    # A participant view that cannot reach the database answers a friendly 503 page.
    "participants.outage.DatabaseOutageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        # The participant's pages (participants/page_templates.py says why Jinja2). First: a
        # name not in templates/jinja2/ falls through to Django's templates (the admin's).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "participants.page_templates.environment",
            "context_processors": ["django.template.context_processors.i18n"],
        },
    },
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# ---------------------------------------------------------------------------- database
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Several gunicorn threads write at once (callback, submit). A transaction that
            # reads first and then writes cannot wait for the lock in SQLite's default DEFERRED
            # mode ("database is locked" at once); IMMEDIATE takes the write lock up front and
            # waits up to `timeout` seconds for it. WAL lets readers go on while one writes.
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_TIMEOUT_SECONDS", default=20),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Persistent connections on both engines: opening one per request was a tenth of a login's
# CPU on SQLite (connect, functions, PRAGMAs), and a round trip or TLS handshake on PostgreSQL.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------- cache
# Shared by every web process in production (rate limits, JWKS): `redis://host:6379/1`.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://campaign-sso")}
if CACHES["default"]["BACKEND"].endswith(".RedisCache"):
    # django-environ picks django-redis whenever that package happens to be installed; we want
    # Django's own Redis backend, so that no third dependency decides how the cache behaves
    # (config/cache.py only keeps its client between calls).
    CACHES["default"]["BACKEND"] = "config.cache.RedisCache"
    # A Redis that stops answering must fail a request quickly, not hold a thread for ever.
    # Overridable in the URL: `redis://host:6379/1?socket_timeout=0.5`.
    CACHES["default"].setdefault("OPTIONS", {})
    CACHES["default"]["OPTIONS"].setdefault("socket_connect_timeout", 2)
    CACHES["default"]["OPTIONS"].setdefault("socket_timeout", 2)

# ---------------------------------------------------------------------------- tasks
# "database" (django-tasks-db, worker: `manage.py db_worker`) or "rq" (django-tasks-rq on Redis,
# worker: `manage.py rqworker`); "immediate" runs tasks in-process (tests only).
TASKS_BACKEND = env.str("TASKS_BACKEND", default="database")
_TASK_BACKENDS = {
    "database": "django_tasks_db.DatabaseBackend",
    "rq": "django_tasks_rq.RQBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
if TASKS_BACKEND not in _TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"TASKS_BACKEND must be one of {', '.join(_TASK_BACKENDS)}, not {TASKS_BACKEND!r}."
    )
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[TASKS_BACKEND], "QUEUES": ["default", "webhooks"]}}
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
RQ_QUEUES = {
    "default": {"URL": REDIS_URL},
    "webhooks": {"URL": REDIS_URL},
}
# Workers (`manage.py rqworker`) must build django-tasks jobs, or every task fails to run.
RQ = {"JOB_CLASS": "django_tasks_rq.backend.Job"}
if TASKS_BACKEND == "rq":
    INSTALLED_APPS.append("django_rq")

# Webhooks: deliveries of one endpoint sent at the same time, at most (one receiver that hangs
# never holds every worker).
WEBHOOK_ENDPOINT_CONCURRENCY = env.int("WEBHOOK_ENDPOINT_CONCURRENCY", default=2)
# Webhooks: deliveries of one endpoint a worker leases at a time when draining a backlog, sent one
# after the other and recorded in one commit. A worker that dies during a batch leaves at most
# this many events to be sent twice (same webhook-id); 1 sends and records one at a time.
_batch_size = env.str("WEBHOOK_BATCH_SIZE", default="25")
if not (_batch_size.isdigit() and int(_batch_size) >= 1):
    raise ImproperlyConfigured(
        f"WEBHOOK_BATCH_SIZE must be a whole number of deliveries, 1 or more, not {_batch_size!r}."
    )
WEBHOOK_BATCH_SIZE = int(_batch_size)
# Webhooks: an event whose JSON body is larger than this is not recorded (logged warning).
WEBHOOK_MAX_PAYLOAD_BYTES = env.int("WEBHOOK_MAX_PAYLOAD_BYTES", default=256 * 1024)
# Days finished webhook deliveries are kept (`manage.py purge_webhook_deliveries`).
WEBHOOK_RETENTION_DAYS = env.int("WEBHOOK_RETENTION_DAYS", default=30)

# ---------------------------------------------------------------------------- auth & i18n
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
# Dates and times written one way, with their time zone (config/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------- static files
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "config.static_storage.StaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# ---------------------------------------------------------------------------- secrets at rest
# One or several Fernet keys, comma-separated, newest first: the newest encrypts, all decrypt.
FIELD_ENCRYPTION_KEY = [
    key.strip()
    for key in _required(
        "FIELD_ENCRYPTION_KEY",
        # A fixed development key, so that `DJANGO_DEBUG=1` alone is enough to try the project.
        debug_default="Q2FtcGFpZ24tU1NPLWRldmVsb3BtZW50LWtleS0wMDA=",
    ).split(",")
    if key.strip()
]

# ---------------------------------------------------------------------------- security
# Two development flags, in force only with DEBUG on: `make run` writes them into the `.env`
# that `make serve-prod` reads too, and production must not inherit them from there. With
# DEBUG off they are ignored, and `check --deploy` fails while they are set
# (integrations/checks.py reads the *_REQUESTED values).
# Identity provider and webhook URLs must be https; plain http only for loopback hosts when
# this is on (development, tests).
ALLOW_HTTP_LOOPBACK_ENDPOINTS_REQUESTED = env.bool("ALLOW_HTTP_LOOPBACK_ENDPOINTS", default=False)
ALLOW_HTTP_LOOPBACK_ENDPOINTS = DEBUG and ALLOW_HTTP_LOOPBACK_ENDPOINTS_REQUESTED
# Webhook receivers on private or loopback addresses.
ALLOW_PRIVATE_WEBHOOK_ADDRESSES_REQUESTED = env.bool(
    "ALLOW_PRIVATE_WEBHOOK_ADDRESSES", default=False
)
ALLOW_PRIVATE_WEBHOOK_ADDRESSES = DEBUG and ALLOW_PRIVATE_WEBHOOK_ADDRESSES_REQUESTED

# Sessions are read on nearly every participant request: with a shared cache (Redis), from the
# cache first, written through to the database so that a cache flush logs nobody out. The local
# memory cache is per process, so with it a session changed by one worker would be read stale by
# another: then sessions live in the database only. (Django's stores, minus a lookup per new
# session: config/sessions/.)
SESSION_ENGINE = (
    "config.sessions.cached_db"
    if CACHES["default"]["BACKEND"] == "config.cache.RedisCache"
    else "config.sessions.db"
)
SESSION_COOKIE_HTTPONLY = True
# Lax, not Strict: the browser must send the cookie on the redirect back from the IdP.
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# A refused campaign form comes back with the participant's answers, in their language.
CSRF_FAILURE_VIEW = "participants.views.csrf_failure"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        # NONCE, not the string "'nonce'": django-csp puts this request's nonce in its place.
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", "https:", "http://127.0.0.1:*", "http://localhost:*"],
        "base-uri": ["'self'"],
    },
}
# Load balancers probe over plain http, often by IP address: `/healthz` answers without the
# https redirect. The Host header is still validated, so DJANGO_ALLOWED_HOSTS must list the
# name or address the probe uses.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# ---------------------------------------------------------------------------- product
# How long a participant has to come back from the IdP.
LOGIN_ATTEMPT_TTL_SECONDS = env.int("LOGIN_ATTEMPT_TTL_SECONDS", default=600)
# For how long after a login another campaign of the same integration offers "Continue as
# <first name>" in the same browser session, without another trip to the IdP (seconds; 0: never).
SSO_REMEMBER_SECONDS = env.int("SSO_REMEMBER_SECONDS", default=30 * 60)
# How long a campaign embedded in a customer's frame keeps a participant's progress (seconds from
# their first page there; the token in the frame's addresses stops working then).
EMBED_SESSION_TTL_SECONDS = env.int("EMBED_SESSION_TTL_SECONDS", default=3600)
# How long login attempts are kept for the SSO activity log (`manage.py purge_login_attempts`).
LOGIN_ATTEMPT_RETENTION_DAYS = env.int("LOGIN_ATTEMPT_RETENTION_DAYS", default=90)
# Days a campaign's participations are kept after it ends, unless its account or the campaign
# says otherwise (`manage.py purge_participations`, daily).
PARTICIPATION_RETENTION_DAYS = env.int("PARTICIPATION_RETENTION_DAYS", default=180)
# Clock difference tolerated with the IdP when checking id_token exp/iat (seconds).
ID_TOKEN_LEEWAY_SECONDS = env.int("ID_TOKEN_LEEWAY_SECONDS", default=60)
# An id_token issued longer ago than this is refused (seconds).
ID_TOKEN_MAX_AGE_SECONDS = env.int("ID_TOKEN_MAX_AGE_SECONDS", default=600)
# How long an IdP's signing keys (JWKS) are cached, and the minimum time between two refetches
# triggered by an unknown key id (seconds).
JWKS_CACHE_SECONDS = env.int("JWKS_CACHE_SECONDS", default=3600)
JWKS_REFETCH_COOLDOWN_SECONDS = env.int("JWKS_REFETCH_COOLDOWN_SECONDS", default=60)
# Circuit breaker per integration (integrations/oauth/breaker.py): after this many consecutive
# token-endpoint failures (timeouts, refused, 5xx) logins pause for this many seconds.
IDP_BREAKER_FAILURES = env.int("IDP_BREAKER_FAILURES", default=5)
IDP_BREAKER_OPEN_SECONDS = env.int("IDP_BREAKER_OPEN_SECONDS", default=30)
# Bulkhead per integration (integrations/oauth/bulkhead.py): logins of one integration calling its
# IdP at the same time, at most, on one machine (its web processes together through the cache; each
# process on its own while the cache is down). One IdP that hangs then holds this many web
# threads of a machine, not all of them.
IDP_MAX_CONCURRENT_CALLS = env.int("IDP_MAX_CONCURRENT_CALLS", default=4)
# Largest mapping table accepted (bytes).
MAPPING_UPLOAD_MAX_BYTES = env.int("MAPPING_UPLOAD_MAX_BYTES", default=5 * 1024 * 1024)

# ---------------------------------------------------------------------------- rate limits
# "<count>/<period>", period s, m, h or d, optionally with a multiple ("100/10m"). Counted in the
# default cache, so that all web processes share them (participants/ratelimit.py).
RATE_LIMITS = {
    "login": {
        "ip": _rate("RATE_LIMIT_LOGIN_PER_IP", "60/m"),
        "campaign": _rate("RATE_LIMIT_LOGIN_PER_CAMPAIGN", "600/m"),
    },
}
# How many reverse proxies in front of the app append to X-Forwarded-For. 0: the client address
# is REMOTE_ADDR and X-Forwarded-For is ignored (anyone can send one).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# ---------------------------------------------------------------------------- error reports
# Debug pages and e-mailed error reports hide the callback's code and state (config/error_reports).
DEFAULT_EXCEPTION_REPORTER = "config.error_reports.OAuthSafeExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.OAuthSafeExceptionReporterFilter"

# ---------------------------------------------------------------------------- logging
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# json: one object per line for the log collector (default in production); plain: for reading.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "filters": {
        "redact_secrets": {"()": "config.logging.RedactSecretsFilter"},
        "request_id": {"()": "config.logging.RequestIdFilter"},
        "quiet_static_files": {
            "()": "config.logging.QuietStaticFilesFilter",
            "static_url": STATIC_URL,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        # runserver's line per request (`make run`), without one per static file.
        "django.server": {
            "handlers": ["console"],
            "level": LOG_LEVEL,
            "propagate": False,
            "filters": ["quiet_static_files"],
        },
    },
}
