"""Starting a login: the redirect to the IdP's authorization endpoint, and the pages a
participant gets instead when the login cannot start. Also the response helpers the login's
views share."""

import logging

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect

from campaigns.models import Campaign, SSOMode
from integrations.models import IntegrationConfigurationError
from integrations.oauth.client import ClientConfig, OAuthError, authorization_url
from integrations.oauth.redirect_uri import callback_url
from participants.login.completion import form_url
from participants.login.state import browser_cookie_set, login_attempt_start
from participants.pages import page_render

logger = logging.getLogger(__name__)


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def no_referrer(response: HttpResponse) -> HttpResponse:
    # The callback URL holds a code and a state; nothing may leak them onwards (RFC 9700 §4.2.4).
    response["Referrer-Policy"] = "no-referrer"
    return response


def keeps_opener(response: HttpResponse) -> HttpResponse:
    """For the answers an embedded campaign's login pop-up gets on its way back to the frame
    that opened it, redirects included: browsers cut a window off from its opener when one of
    them says Cross-Origin-Opener-Policy same-origin, as every other page of ours does."""
    response["Cross-Origin-Opener-Policy"] = "unsafe-none"
    return response


def login_unavailable_page(request, campaign: Campaign) -> HttpResponse:
    context = {"campaign": campaign}
    return page_render(request, "participants/login_unavailable.html", context, status=503)


def login_paused_page(request, campaign: Campaign) -> HttpResponse:
    context = {"campaign": campaign, "retry_after_seconds": settings.IDP_BREAKER_OPEN_SECONDS}
    if campaign.sso_mode == SSOMode.OPTIONAL:
        context["manual_url"] = form_url(campaign)
    response = page_render(request, "participants/login_paused.html", context, status=503)
    response["Retry-After"] = str(settings.IDP_BREAKER_OPEN_SECONDS)
    return response


def idp_redirect(
    request, *, integration, campaign, return_to, language, test_user=None, embed_session=None
):
    """The redirect to the authorization endpoint, or None when the integration is unusable."""
    try:
        config = ClientConfig.from_integration(integration)
    except (IntegrationConfigurationError, ValueError):
        logger.warning("sso login start refused: integration=%s unusable", integration.pk)
        return None
    started = login_attempt_start(
        request=request,
        integration=integration,
        campaign=campaign,
        return_to=return_to,
        language=language,
        redirect_uri=callback_url(integration),
        test_user=test_user,
        embed_session=embed_session,
    )
    try:
        url = authorization_url(
            config,
            redirect_uri=callback_url(integration),
            state=started.state,
            nonce=started.attempt.nonce or None,
            code_challenge=started.code_challenge,
        )
    except OAuthError:
        logger.warning("sso login start refused: integration=%s endpoint", integration.pk)
        return None
    response = HttpResponseRedirect(url)
    if started.browser_is_new:
        browser_cookie_set(response, started.browser_value)
    return no_referrer(response)
