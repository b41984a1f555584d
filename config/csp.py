"""django-csp's middleware, with the policy of an ordinary response built once per process.

django-csp builds the Content-Security-Policy header, and its report-only twin, from the
settings on every response: the directives copied, merged and joined, twice. On an empty page
that is a fifth of the request's CPU under the profiler, about 90 µs of 450 measured
(BENCHMARKS.md, "Eighth round"). The header only differs from one response to the next when
something changes it: a view's `_csp_config`, `_csp_update` or `_csp_replace` (and their
`_ro` twins: the framed pages' `frame-ancestors`, participants/views_embed.py), or a page that
used this request's nonce. Those responses go through django-csp unchanged. Every other one gets
the header django-csp built for the first such response, with the same checks before it is set
(`@csp_exempt`, a header already there, `EXCLUDE_URL_PREFIXES`); the copy is dropped whenever
either setting changes (`override_settings` in the tests sends `setting_changed`).

tests/ops/test_csp.py requires the same headers as django-csp's own middleware, customised,
exempted, excluded, with a nonce or after the settings change.
"""

import http.client
from functools import cache

from csp import middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# What a view sets on its response to change the policy (django-csp's decorators).
_CUSTOMISED = tuple(
    f"_csp_{part}{suffix}" for part in ("config", "update", "replace") for suffix in ("", "_ro")
)
# django-csp leaves these alone when DEBUG is on, for Django's debug pages.
_DEBUG_PAGES = (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND)
_SETTINGS = ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")


@cache
def _plain_headers() -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    """(header, policy, the response's exemption flag, excluded path prefixes) for the policy
    and the report-only policy, as django-csp builds them from the settings alone."""
    headers = []
    for header, setting, exempt, report_only in (
        (HEADER, _SETTINGS[0], "_csp_exempt", False),
        (HEADER_REPORT_ONLY, _SETTINGS[1], "_csp_exempt_ro", True),
    ):
        policy = build_policy(report_only=report_only)
        if policy:
            prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES")
            headers.append((header, policy, exempt, tuple(prefixes or ())))
    return tuple(headers)


@receiver(setting_changed)
def _settings_changed(*, setting, **kwargs) -> None:
    if setting in _SETTINGS:
        _plain_headers.cache_clear()


class CSPMiddleware(middleware.CSPMiddleware):
    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _CUSTOMISED
        ):
            return super().process_response(request, response)
        if response.status_code in _DEBUG_PAGES and settings.DEBUG:
            return response
        for header, policy, exempt, prefixes in _plain_headers():
            if (
                header not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(prefixes)
            ):
                response[header] = policy
        # As django-csp: a nonce asked for once the header is written raises CSPNonceError.
        request.csp_nonce = middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response
