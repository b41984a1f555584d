"""Django's LocaleMiddleware, without the language-prefix work a URLconf without i18n_patterns
never uses.

Django's reads a language from the request's path twice per request (once to choose the
language, once for the response) even when no URL carries one: the path's first segment is
looked up as a language code, and failing, raises and catches LookupError. With no
`i18n_patterns` in the request's URLconf, what the middleware does comes down to: the language
from the cookie, Accept-Language or LANGUAGE_CODE, activated; `Vary: Accept-Language` and
`Content-Language` on the response. This class does only that there, with Django's own
functions, and hands any request whose URLconf uses i18n_patterns to Django's unchanged.

tests/ops/test_locale.py requires the same language and the same headers as Django's middleware,
request by request, with and without i18n_patterns.
"""

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.middleware import locale
from django.utils import translation
from django.utils.cache import patch_vary_headers


def _prefixed(request) -> bool:
    """Does this request's URLconf put languages in its paths (i18n_patterns)? Remembered per
    URLconf by Django."""
    return is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]


class LocaleMiddleware(locale.LocaleMiddleware):
    def process_request(self, request):
        if _prefixed(request):
            return super().process_request(request)
        translation.activate(translation.get_language_from_request(request, check_path=False))
        request.LANGUAGE_CODE = translation.get_language()
        return None

    def process_response(self, request, response):
        if _prefixed(request):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
