"""config/locale.py: the same language and headers as Django's LocaleMiddleware, request by
request, without its language-prefix work where the URLconf has no i18n_patterns."""

import pytest
from django.http import HttpResponse, HttpResponseNotFound
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation

from config.locale import LocaleMiddleware

REQUESTS = {
    "nothing asked": {},
    "accept-language fr": {"HTTP_ACCEPT_LANGUAGE": "fr-BE,fr;q=0.9,en;q=0.8"},
    "accept-language en": {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"},
    "accept-language unknown": {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9"},
    "accept-language garbage": {"HTTP_ACCEPT_LANGUAGE": ";;q=x,,"},
    "cookie fr": {"HTTP_COOKIE": "django_language=fr"},
    "cookie unknown, accept fr": {
        "HTTP_COOKIE": "django_language=xx",
        "HTTP_ACCEPT_LANGUAGE": "fr",
    },
    "path that looks like a language": {"path": "/fr/c/contest/"},
}


def _page(request):
    return HttpResponse(f"page in {translation.get_language()}")


def _page_that_varies(request):
    response = HttpResponse("page")
    response["Vary"] = "Cookie"
    return response


def _missing(request):
    return HttpResponseNotFound("missing")


def _served(middleware_class, rf, case, view=_page):
    """What a request gets through one of the two middlewares: its language, the page's body
    and the response's language headers."""
    extra = dict(REQUESTS[case])
    request = rf.get(extra.pop("path", "/c/contest/form/"), **extra)
    with translation.override(None):
        response = middleware_class(view)(request)
    return (
        request.LANGUAGE_CODE,
        response.status_code,
        response.content,
        response.get("Vary"),
        response.get("Content-Language"),
    )


@pytest.mark.parametrize("case", REQUESTS)
@pytest.mark.parametrize("view", [_page, _page_that_varies, _missing])
def test_every_request_gets_what_djangos_middleware_gives(rf, case, view):
    assert _served(LocaleMiddleware, rf, case, view) == _served(
        DjangoLocaleMiddleware, rf, case, view
    )


def test_the_language_is_the_browsers_and_the_response_says_so(rf):
    language, _status, body, vary, content_language = _served(
        LocaleMiddleware, rf, "accept-language fr"
    )
    assert language == "fr" and body == b"page in fr"
    assert vary == "Accept-Language" and content_language == "fr"


@pytest.mark.urls("tests.ops.urls_with_language_prefixes")
@pytest.mark.parametrize("case", REQUESTS)
@pytest.mark.parametrize("view", [_page, _missing])
def test_with_language_prefixes_in_the_urls_it_is_djangos_middleware(rf, case, view):
    assert _served(LocaleMiddleware, rf, case, view) == _served(
        DjangoLocaleMiddleware, rf, case, view
    )


@pytest.mark.urls("tests.ops.urls_with_language_prefixes")
def test_with_language_prefixes_a_missing_prefix_is_redirected_as_django_does(rf, settings):
    settings.LANGUAGE_CODE = "en"
    request = rf.get("/c/contest/", HTTP_ACCEPT_LANGUAGE="fr")
    response = LocaleMiddleware(_missing)(request)
    assert response.status_code == 302 and response["Location"] == "/fr/c/contest/"


def test_the_site_uses_it(client, db):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response["Content-Language"] == "fr"
    assert "Accept-Language" in response["Vary"]
