"""The redirect URIs IdPs send participants back to.

Each integration has its own, `/oauth/callback/<callback key>`: the path names the integration a
callback is for, so that a code issued by one account's IdP can never be taken to another
account's token endpoint (a mix-up, RFC 9700 §4.4: the countermeasure of distinct redirect URIs
per authorization server). The shared `/oauth/callback` of the original help article remains for
integrations where a mix-up cannot happen: a verified issuer that sends `iss` (RFC 9207).

Both are built from PUBLIC_BASE_URL, never from the request's Host header.
"""

from django.conf import settings

SHARED_CALLBACK_PATH = "/oauth/callback"


def _base() -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/")


def integration_callback_path(callback_key: str) -> str:
    return f"{SHARED_CALLBACK_PATH}/{callback_key}"


def shared_callback_url() -> str:
    return _base() + SHARED_CALLBACK_PATH


def callback_url(integration) -> str:
    """The redirect URI a login with `integration` sends and must come back to."""
    if integration.use_shared_callback:
        return shared_callback_url()
    return _base() + integration_callback_path(integration.callback_key)


def own_callback_url(integration) -> str:
    """The integration's own redirect URI, whichever one it uses now (for the admin)."""
    return _base() + integration_callback_path(integration.callback_key)
