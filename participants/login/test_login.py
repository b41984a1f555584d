"""An administrator's test login: the real login flow, started from the integration's admin
page, that ends on a result page showing what the IdP sent and what the mapping made of it."""

import json

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.permissions import Capability, can
from integrations.models import OAuthIntegration
from integrations.oauth.answer import IdPAnswer
from participants.login.completion import login_attempt_succeed
from participants.login.failures import LoginFailure
from participants.login.profile import profile_map, profile_redact
from participants.login.start import HttpResponseSeeOther, idp_redirect, no_referrer
from participants.models import LoginAttempt


def _test_session_key(attempt: LoginAttempt) -> str:
    return f"sso_test:{attempt.pk}"


def test_login_succeeded(request, attempt: LoginAttempt, answer: IdPAnswer) -> HttpResponse:
    """The callback of a test login the IdP vouched for: its profile (redacted) is kept for the
    mapping's preview, and the result page shows what the mapping made of it. The
    administrator's own test proves the settings work: any sign-in alert is over."""
    integration = attempt.integration
    redacted = profile_redact(answer.parts)
    mapped = profile_map(parts=answer.parts, integration=integration)
    # No savepoint when a caller's transaction is open already: one transaction, no more.
    with transaction.atomic(savepoint=False):
        integration.last_test_profile = json.dumps(
            redacted, ensure_ascii=False, sort_keys=True, default=str
        )
        integration.save(update_fields=["last_test_profile"])
        login_attempt_succeed(attempt=attempt, answer=answer)
    return _result_redirect(
        request,
        attempt,
        {
            "profile": redacted,
            "values": mapped.values,
            "missing": mapped.missing_required,
            "problems": mapped.problems,
            "error": None,
        },
    )


def test_login_failed(request, attempt: LoginAttempt, failure: LoginFailure) -> HttpResponse:
    error = {"step": failure.step, "code": failure.code, "detail": failure.detail}
    result = {"profile": None, "values": {}, "missing": [], "problems": [], "error": error}
    return _result_redirect(request, attempt, result)


def _result_redirect(request, attempt: LoginAttempt, result: dict) -> HttpResponse:
    request.session[_test_session_key(attempt)] = result
    url = reverse("participants:test_login_result", args=[attempt.pk])
    return no_referrer(HttpResponseSeeOther(url))


@require_GET
@never_cache
@staff_member_required
def test_login_start(request, integration_id: int):
    """Run the real login flow as an administrator; it ends on `test_login_result`."""
    integration = get_object_or_404(
        OAuthIntegration.objects.select_related("account"), pk=integration_id
    )
    if not can(request.user, Capability.MANAGE_OAUTH, integration.account):
        raise Http404
    reason = integration.unavailable_reason(test_login=True)
    response = None
    if not reason:
        response = idp_redirect(
            request,
            integration=integration,
            campaign=None,
            return_to="",
            language=translation.get_language() or "",
            test_user=request.user,
        )
    if response is None:
        return render(
            request,
            "participants/test_login_result.html",
            {
                **admin.site.each_context(request),
                "integration": integration,
                "unusable": True,
                "unusable_reason": reason,
                "title": _("Test login"),
            },
            status=409,
        )
    return response


@require_GET
@never_cache
@staff_member_required
def test_login_result(request, attempt_id: int):
    attempt = get_object_or_404(
        LoginAttempt.objects.select_related("integration"),
        pk=attempt_id,
        is_test=True,
        test_user=request.user,
    )
    integration = attempt.integration
    if integration is None or not can(request.user, Capability.MANAGE_OAUTH, integration.account):
        raise Http404
    result = request.session.get(_test_session_key(attempt))
    if result is None:
        raise Http404
    context = {
        # The admin's header, user tools and sidebar: this page is part of the admin.
        **admin.site.each_context(request),
        "title": _("Test login"),
        "integration": integration,
        "attempt": attempt,
        "result": result,
        "profile_json": _pretty(result["profile"]) if result.get("profile") else "",
    }
    return no_referrer(render(request, "participants/test_login_result.html", context))


def _pretty(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str)
