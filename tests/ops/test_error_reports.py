"""Error reports never show the authorization code or the state of an OAuth callback."""

import sys

from django.test import RequestFactory
from django.views.debug import (
    ExceptionReporter,
    SafeExceptionReporterFilter,
    get_default_exception_reporter_filter,
)

CODE = "SplxlOBeZQQYbYS6WxSbIA"
STATE = "af0ifjsldkj-state-value"


def _report(*, html: bool) -> str:
    request = RequestFactory().get(
        "/oauth/callback", {"code": CODE, "state": STATE, "iss": "https://idp.example.com"}
    )
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    from django.conf import settings
    from django.utils.module_loading import import_string

    reporter_class = import_string(settings.DEFAULT_EXCEPTION_REPORTER)
    reporter = reporter_class(request, *exc_info)
    return reporter.get_traceback_html() if html else reporter.get_traceback_text()


def test_the_configured_reporter_and_filter_are_ours():
    from django.conf import settings

    assert settings.DEFAULT_EXCEPTION_REPORTER.endswith("OAuthSafeExceptionReporter")
    assert type(get_default_exception_reporter_filter()).__name__ == (
        "OAuthSafeExceptionReporterFilter"
    )


def test_html_report_hides_code_and_state_but_keeps_other_parameters():
    report = _report(html=True)
    assert CODE not in report and STATE not in report
    assert "idp.example.com" in report  # harmless parameters stay readable
    assert "boom" in report


def test_text_report_hides_code_and_state():
    report = _report(html=False)
    assert CODE not in report and STATE not in report


def test_djangos_plain_reporter_would_have_shown_them():
    """The guard above is needed: without our classes the code is in the report."""
    request = RequestFactory().get("/oauth/callback", {"code": CODE, "state": STATE})
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    plain = ExceptionReporter(request, *exc_info)
    plain.filter = SafeExceptionReporterFilter()
    assert CODE in plain.get_traceback_html()
