"""The production settings for the two servers of tests/ops/test_stateless.py: plain http to
the loopback IdP stub (as bench/login_settings.py), and static files without the manifest, so
that the test needs no collectstatic (its journeys load no static file)."""

from config.settings import *  # noqa: F403

ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
