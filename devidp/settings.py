"""Settings of the development IdP: an OpenID Connect provider for demos and end-to-end tests.

A separate Django project, never loaded by the product (`config.settings`). Everything it writes
(SQLite database, RSA signing key) lives in `DEVIDP_DATA_DIR` (default `devidp/.data/`).
Not for production: debug on, a fixed default secret key, http redirect URIs allowed.
"""

import os
from pathlib import Path

from devidp.accounts.pkce import pkce_required
from devidp.keys import rsa_private_key_pem

IDP_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("DEVIDP_DATA_DIR") or IDP_DIR / ".data").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# ---------------------------------------------------------------------------- core
DEBUG = os.environ.get("DEVIDP_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("DEVIDP_SECRET_KEY") or "devidp-insecure-development-only-key"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
# Enables POST /devidp/clients/ (client registration over HTTP) for callers holding this token.
DEVIDP_ADMIN_TOKEN = os.environ.get("DEVIDP_ADMIN_TOKEN", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
    "devidp.accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Like the identity providers that support logging in from a pop-up: its pages leave the window
# that opened the pop-up in place (an embedded campaign's frame waits there for the login).
# Django's default, same-origin, would cut the pop-up off from it; the campaign then offers to
# go on in the pop-up (README, "Embedding a campaign").
SECURE_CROSS_ORIGIN_OPENER_POLICY = "unsafe-none"

ROOT_URLCONF = "devidp.urls"
WSGI_APPLICATION = "devidp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [IDP_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ---------------------------------------------------------------------------- database
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "devidp.sqlite3",
        "OPTIONS": {
            # The seed command may write while the server runs: WAL lets readers go on, and
            # NORMAL sync spares migrate hundreds of fsyncs (a dev database may lose its last
            # writes in a power cut, nothing more).
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------- auth & sessions
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
# Cookies ignore ports: the product on 127.0.0.1:8000 and the IdP on 127.0.0.1:9000 share a
# cookie jar, so the IdP's cookies need names of their own.
SESSION_COOKIE_NAME = "devidp_sessionid"
CSRF_COOKIE_NAME = "devidp_csrftoken"
LANGUAGE_COOKIE_NAME = "devidp_language"
if os.environ.get("DEVIDP_FAST_PASSWORD_HASHING") == "1":
    # End-to-end tests: hashing demo passwords and client secrets must not cost seconds.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# ---------------------------------------------------------------------------- OpenID Connect
# Named explicitly: the Profile/ClientPolicy migration depends on the (swappable) model setting.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": rsa_private_key_pem(DATA_DIR),
    "OAUTH2_VALIDATOR_CLASS": "devidp.accounts.validator.DevIdPValidator",
    "SCOPES": {
        "openid": "Sign you in (OpenID Connect)",
        "profile": "Your name, gender, date of birth and language",
        "email": "Your e-mail address",
        "address": "Your postal address",
        "phone": "Your phone number",
        "campaign": "Your loyalty number and marketing preferences",
    },
    "DEFAULT_SCOPES": ["openid", "profile", "email"],
    # Per client: required for clients seeded with --pkce-required (or a `pkce-` client id).
    "PKCE_REQUIRED": pkce_required,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    # RFC 9207: `iss` in every authorization response (DEVIDP_AUTHZ_RESPONSE_ISS=0 leaves it out).
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": os.environ.get("DEVIDP_AUTHZ_RESPONSE_ISS", "1")
    == "1",
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 300,
    "REQUEST_APPROVAL_PROMPT": "force",
}

# ---------------------------------------------------------------------------- logging
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"oauth2_provider": {"handlers": ["console"], "level": "INFO"}},
}
