"""The redirect URI every IdP sends participants back to.

One fixed URL for every account (the `state` parameter, not the URL, says which login attempt a
callback belongs to). It is built from PUBLIC_BASE_URL, never from the request's Host header.
"""

from django.conf import settings

CALLBACK_PATH = "/oauth/callback"


def callback_url() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + CALLBACK_PATH
