"""config/csp.py: the same Content-Security-Policy headers as django-csp's own middleware, with
the ordinary response's policy built once per process."""

import pytest
from csp import middleware as upstream
from csp.constants import HEADER, HEADER_REPORT_ONLY, SELF
from csp.decorators import csp_exempt
from csp.exceptions import CSPNonceError
from django.http import HttpResponse

from config.csp import CSPMiddleware

REPORT_ONLY = {"DIRECTIVES": {"default-src": [SELF], "report-uri": "/csp-reports/"}}


def _page(request):
    return HttpResponse("page")


def _headers(middleware_class, rf, view=_page, path="/c/contest/form/"):
    """(policy, report-only policy) a page gets from one of the two middlewares; "" if none."""
    middleware = middleware_class(view)
    request = rf.get(path)
    response = middleware(request)
    return response.get(HEADER, ""), response.get(HEADER_REPORT_ONLY, ""), request


def _both(rf, view=_page, path="/c/contest/form/"):
    ours = _headers(CSPMiddleware, rf, view, path)[:2]
    theirs = _headers(upstream.CSPMiddleware, rf, view, path)[:2]
    return ours, theirs


def test_an_ordinary_page_gets_django_csps_policy(rf):
    (policy, report_only), theirs = _both(rf)
    assert (policy, report_only) == theirs
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "'nonce" not in policy  # no nonce asked for: none in the header
    assert report_only == ""  # none configured


def test_the_same_policy_on_every_page_and_the_site_serves_it(rf, client, db):
    first = _headers(CSPMiddleware, rf)[0]
    assert _headers(CSPMiddleware, rf)[0] == first
    assert client.get("/admin/login/")[HEADER] == first


def test_a_change_of_the_settings_is_followed_at_once(rf, settings):
    before = _headers(CSPMiddleware, rf)[0]  # the policy is kept from here on
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [SELF, "https://cdn.test"]}}
    (policy, _ro), theirs = _both(rf)
    assert policy == theirs[0] == "default-src 'self' https://cdn.test"
    assert policy != before


def test_a_report_only_policy_is_sent_as_django_csp_sends_it(rf, settings):
    _headers(CSPMiddleware, rf)
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = REPORT_ONLY
    (policy, report_only), theirs = _both(rf)
    assert (policy, report_only) == theirs
    assert report_only == "default-src 'self'; report-uri /csp-reports/"


@pytest.mark.parametrize(
    "attribute",
    ["_csp_replace", "_csp_update", "_csp_config", "_csp_replace_ro", "_csp_update_ro"],
)
def test_a_view_that_changes_its_policy_gets_its_own(rf, settings, attribute):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = REPORT_ONLY
    _headers(CSPMiddleware, rf)

    def framed(request):
        response = HttpResponse("framed")
        setattr(response, attribute, {"frame-ancestors": ["https://customer.test"]})
        return response

    ours, theirs = _both(rf, framed)
    assert ours == theirs
    assert "https://customer.test" in "".join(ours)


def test_a_page_that_used_the_nonce_gets_it_in_its_header(rf):
    _headers(CSPMiddleware, rf)

    def with_script(request):
        return HttpResponse(f'<script nonce="{request.csp_nonce}"></script>')

    middleware = CSPMiddleware(with_script)
    request = rf.get("/")
    response = middleware(request)
    assert f"script-src 'self' 'nonce-{request._csp_nonce}'" in response[HEADER]
    assert f'nonce="{request._csp_nonce}"' in response.content.decode()


def test_a_nonce_asked_for_after_the_header_is_written_is_refused(rf):
    request = _headers(CSPMiddleware, rf)[2]
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)


def test_an_exempted_view_gets_no_policy(rf, settings):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = REPORT_ONLY
    ours, theirs = _both(rf, csp_exempt()(_page))
    assert ours == theirs and ours[0] == "" and ours[1]  # the report-only one still sent
    exempt_from_both = csp_exempt()(csp_exempt(REPORT_ONLY=True)(_page))
    ours, theirs = _both(rf, exempt_from_both)
    assert ours == theirs == ("", "")


def test_a_header_the_view_wrote_itself_is_kept(rf):
    def own(request):
        response = HttpResponse("own")
        response[HEADER] = "default-src 'none'"
        return response

    assert _headers(CSPMiddleware, rf, own)[0] == "default-src 'none'"


def test_excluded_paths_get_no_policy(rf, settings):
    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "EXCLUDE_URL_PREFIXES": ["/legacy/"],
    }
    ours, theirs = _both(rf, path="/legacy/page/")
    assert ours == theirs == ("", "")
    assert _headers(CSPMiddleware, rf, path="/c/contest/")[0]


def test_no_policy_on_djangos_debug_pages_as_django_csp(rf, settings):
    settings.DEBUG = True

    def missing(request):
        return HttpResponse("debug page", status=404)

    ours, theirs = _both(rf, missing)
    assert ours == theirs == ("", "")
    settings.DEBUG = False
    assert _headers(CSPMiddleware, rf, missing)[0]
