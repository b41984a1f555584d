"""The public campaign pages: landing, form, thank-you, and the pages for closed campaigns."""

import hashlib
import logging
import re
import secrets
from functools import reduce
from operator import or_

from django.conf import settings
from django.db import OperationalError
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse
from django.utils import translation
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from campaigns.models import Campaign, ParticipationLimit, PrefillMode, SSOMode
from campaigns.public import public_campaign

from .forms import ParticipationForm
from .identity import remembered_login_get
from .models import Participant, Participation
from .notice import login_notice
from .prefill import Prefill, prefill_get
from .services import AlreadyParticipatedError, participation_create

logger = logging.getLogger(__name__)

# A first-party cookie naming this browser, for "once per participant" without a login.
BROWSER_COOKIE = "campaign_browser"
BROWSER_COOKIE_MAX_AGE = 365 * 24 * 3600
FORM_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
LANGUAGE_NAMES = dict(settings.LANGUAGES)


class _HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


# ---------------------------------------------------------------------------- helpers
def _campaign(slug: str) -> Campaign | None:
    """The published campaign with this slug; drafts do not exist for the public."""
    return public_campaign(slug)


def _activate_language(request, campaign: Campaign | None) -> str:
    """?lang= when the campaign offers it, else the browser's choice, else the first offered.

    An unknown or unoffered code is ignored, never an error.
    """
    offered = campaign.offered_languages if campaign else list(LANGUAGE_NAMES)
    requested = request.GET.get("lang", "")
    if requested in offered:
        language = requested
        request._explicit_language = requested
    else:
        # LocaleMiddleware already read the language cookie and Accept-Language.
        browser = (getattr(request, "LANGUAGE_CODE", "") or "").split("-")[0]
        language = browser if browser in offered else offered[0]
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language


def _page(request, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    campaign = context.get("campaign")
    language = translation.get_language()
    if campaign is not None:
        # At the foot of every page of the campaign: the form collects data too, login or not.
        context.setdefault("privacy_policy_url", campaign.privacy_policy_link)
    # A page of no campaign (not found, an error) is offered in every language.
    offered = campaign.offered_languages if campaign is not None else list(LANGUAGE_NAMES)
    if len(offered) > 1 and "language_links" not in context:
        context["language_links"] = [
            {
                "code": code,
                "name": LANGUAGE_NAMES[code],
                "url": f"{request.path}?{urlencode({'lang': code})}",
                "current": code == language,
            }
            for code in offered
        ]
    response = render(request, template, context, status=status)
    explicit = getattr(request, "_explicit_language", None)
    if explicit:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            explicit,
            max_age=BROWSER_COOKIE_MAX_AGE,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    return response


def _closed_page(request, campaign: Campaign | None) -> HttpResponse | None:
    """The page for a campaign that cannot take participations now, or None when it is open."""
    if campaign is None:
        return _page(request, "participants/unknown.html", {}, status=404)
    if campaign.has_ended:
        return _page(request, "participants/ended.html", {"campaign": campaign}, status=410)
    if not campaign.has_started:
        return _page(request, "participants/not_started.html", {"campaign": campaign})
    return None


def _browser_key(request) -> tuple[str, bool]:
    """This browser's random key and whether it must be (re)sent as a cookie."""
    key = request.COOKIES.get(BROWSER_COOKIE, "")
    if FORM_TOKEN_RE.match(key):
        return key, False
    return secrets.token_urlsafe(32), True


def _remember_browser(response: HttpResponse, key: str) -> HttpResponse:
    response.set_cookie(
        BROWSER_COOKIE,
        key,
        max_age=BROWSER_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


def _once_key(prefill: Prefill | None, browser_key: str) -> str:
    """Who takes part: the IdP identity when logged in, else this browser (hashed)."""
    if prefill is not None:
        return f"p:{prefill.participant_id}"
    return "b:" + hashlib.sha256(browser_key.encode()).hexdigest()


def _participant(campaign: Campaign, prefill: Prefill | None) -> Participant | None:
    if prefill is None:
        return None
    return Participant.objects.filter(
        pk=prefill.participant_id, account_id=campaign.account_id
    ).first()


def _notice(campaign: Campaign, integration):
    """What a login would share with the campaign, or None when it offers no login."""
    if integration is None:
        return None
    return login_notice(
        campaign=campaign, integration=integration, language=translation.get_language()
    )


def _url(name: str, campaign: Campaign) -> str:
    return reverse(f"participants:{name}", args=[campaign.slug])


def _done_key(campaign: Campaign) -> str:
    return f"participated:{campaign.pk}"


def _finish(request, campaign: Campaign) -> HttpResponse:
    request.session[_done_key(campaign)] = True
    return _HttpResponseSeeOther(_url("thanks", campaign))


def _earlier_participations(campaign: Campaign, *, token: str, once_key: str) -> tuple[bool, bool]:
    """(this form was already submitted, this participant already took part), in one query."""
    once = campaign.participation_limit == ParticipationLimit.ONCE
    token = token if FORM_TOKEN_RE.match(token) else ""
    conditions = [Q(submission_token=token)] if token else []
    if once:
        conditions.append(Q(once_key=once_key))
    if not conditions:
        return False, False
    # Both columns are unique (per campaign), so at most two rows can match.
    rows = Participation.objects.filter(reduce(or_, conditions), campaign=campaign).values_list(
        "submission_token", "once_key"
    )[:2]
    submitted = bool(token) and any(row[0] == token for row in rows)
    taken_part = once and any(row[1] == once_key for row in rows)
    return submitted, taken_part


# ---------------------------------------------------------------------------- pages
@require_GET
def landing(request, slug: str):
    campaign = _campaign(slug)
    _activate_language(request, campaign)
    if (closed := _closed_page(request, campaign)) is not None:
        return closed
    integration = campaign.login_integration
    context = {
        "campaign": campaign,
        "integration": integration,
        "login_required": campaign.sso_mode == SSOMode.REQUIRED,
        "notice": _notice(campaign, integration),
        "returning": remembered_login_get(request, campaign=campaign, integration=integration),
    }
    return _page(request, "participants/landing.html", context)


@require_http_methods(["GET", "POST"])
def campaign_form(request, slug: str):
    campaign = _campaign(slug)
    language = _activate_language(request, campaign)
    # A form posted to a campaign that has ended meanwhile gets the ending page; nothing stored.
    if (closed := _closed_page(request, campaign)) is not None:
        return closed

    integration = campaign.login_integration
    prefill = prefill_get(request, campaign)
    participant = _participant(campaign, prefill)
    if prefill is not None and participant is None:
        prefill = None  # the participant is gone, or the session was built for another account
    browser_key, new_browser = _browser_key(request)
    once_key = _once_key(prefill, browser_key)

    def respond(response: HttpResponse) -> HttpResponse:
        return _remember_browser(response, browser_key) if new_browser else response

    context = {"campaign": campaign, "integration": integration, "prefill": prefill}
    if prefill is None:
        context["notice"] = _notice(campaign, integration)
        context["returning"] = remembered_login_get(
            request, campaign=campaign, integration=integration
        )
    token = request.POST.get("form_token", "") if request.method == "POST" else ""

    submitted, taken_part = _earlier_participations(campaign, token=token, once_key=once_key)
    # A form already submitted (double click, refresh, back then submit again): PRG.
    if submitted:
        return respond(_finish(request, campaign))

    if campaign.sso_mode == SSOMode.REQUIRED and prefill is None:
        if request.method == "POST":
            return respond(_HttpResponseSeeOther(_url("form", campaign)))
        template = (
            "participants/login_required.html"
            if integration
            else "participants/login_unavailable.html"
        )
        return respond(_page(request, template, context))

    if taken_part:
        return respond(_HttpResponseSeeOther(_url("already", campaign)))

    fields = list(campaign.fields.all())
    form_kwargs = {"fields": fields, "prefill": prefill, "language": language}

    status = 200
    if request.method == "GET":
        form = ParticipationForm(**form_kwargs)
        token = secrets.token_urlsafe(32)
        if prefill is not None and campaign.prefill_mode == PrefillMode.AUTO_SUBMIT:
            values = form.auto_submit_values()
            if values is not None:
                submitted = _submit(
                    request,
                    campaign,
                    values=values,
                    prefilled=form.prefilled,
                    from_idp=form.idp_variables,
                    participant=participant,
                    language=language,
                    token=prefill.auto_submit_token,
                    once_key=once_key,
                )
                if submitted is not None:
                    return respond(submitted)
                context["save_failed"], status = True, 503
    else:
        form = ParticipationForm(request.POST, **form_kwargs)
        if not FORM_TOKEN_RE.match(token):
            # Not a form we served: check and submit again, with a token of our own.
            context["token_missing"] = True
            form.is_valid()
            token = secrets.token_urlsafe(32)
        elif form.is_valid():
            submitted = _submit(
                request,
                campaign,
                values=form.submitted_values(),
                prefilled=form.prefilled,
                from_idp=form.idp_variables,
                participant=participant,
                language=language,
                token=token,
                once_key=once_key,
            )
            if submitted is not None:
                return respond(submitted)
            # Kept: the same token, so that submitting again stores the participation once.
            context["save_failed"], status = True, 503
    context.update(form=form, form_token=token, rows=form.rows())
    return respond(_page(request, "participants/form.html", context, status=status))


def _submit(
    request, campaign, *, values, prefilled, from_idp, participant, language, token, once_key
):
    """The redirect after storing the participation; None when the database is unavailable."""
    try:
        participation_create(
            campaign=campaign,
            values=values,
            prefilled=prefilled,
            from_idp=from_idp,
            participant=participant,
            language=language,
            submission_token=token,
            once_key=once_key,
        )
    except AlreadyParticipatedError:
        return _HttpResponseSeeOther(_url("already", campaign))
    except OperationalError:
        # Locked, restarting or unreachable: the transaction rolled back, nothing is stored.
        # The participant gets their answers back to submit again (503), not an error page.
        logger.warning("participation not stored: database unavailable", exc_info=True)
        return None
    return _finish(request, campaign)


@require_GET
def thanks(request, slug: str):
    campaign = _campaign(slug)
    _activate_language(request, campaign)
    if campaign is None:
        return _closed_page(request, campaign)
    if not request.session.get(_done_key(campaign)):
        return HttpResponseRedirect(_url("landing", campaign))
    return _page(request, "participants/thanks.html", {"campaign": campaign})


@require_GET
def already(request, slug: str):
    campaign = _campaign(slug)
    _activate_language(request, campaign)
    if campaign is None:
        return _closed_page(request, campaign)
    return _page(request, "participants/already.html", {"campaign": campaign})


def csrf_failure(request, reason: str = ""):
    """A clear page, in the participant's language, when the CSRF check refuses a POST.

    On a campaign form the participant's answers come back in a fresh form (nothing is stored:
    they submit again themselves), so a stale tab or an expired cookie loses nothing.
    """
    try:
        match = resolve(request.path_info)
    except Resolver404:
        match = None
    campaign = None
    if match is not None and match.view_name == "participants:form":
        campaign = _campaign(match.kwargs.get("slug", ""))
    language = _activate_language(request, campaign)
    context = {"campaign": campaign}
    if campaign is not None and campaign.is_open:
        prefill = prefill_get(request, campaign)
        if prefill is None or campaign.sso_mode != SSOMode.REQUIRED:
            form = ParticipationForm(
                request.POST,
                fields=list(campaign.fields.all()),
                prefill=prefill,
                language=language,
            )
            form.is_valid()
            context.update(
                form=form,
                rows=form.rows(),
                form_token=secrets.token_urlsafe(32),
                integration=campaign.oauth_integration,
                notice=None if prefill else _notice(campaign, campaign.login_integration),
                returning=None
                if prefill
                else remembered_login_get(
                    request, campaign=campaign, integration=campaign.login_integration
                ),
                prefill=prefill,
                csrf_failed=True,
            )
            return _page(request, "participants/form.html", context, status=403)
    return _page(request, "participants/csrf_failure.html", context, status=403)
