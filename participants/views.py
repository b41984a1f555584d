"""The public campaign pages: landing, form, thank-you, and the pages for closed campaigns.

While the database is unreachable these pages answer what they can (participants/outage.py):
the form comes back with the answers and a 503 when it cannot be saved, and a participation that
was stored is confirmed whatever fails after it.
"""

import hashlib
import logging
import re
import secrets

from django.conf import settings
from django.core import signing
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import Resolver404, resolve
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from campaigns.lookup import PublishedCampaign
from campaigns.models import Campaign, ParticipationLimit, PrefillMode, SSOMode
from core.statements import row_exists
from participants.forms import ParticipationForm
from participants.login.remembered import remembered_login_get
from participants.models import Participation
from participants.outage import DATABASE_UNAVAILABLE, RETRY_AFTER_SECONDS
from participants.pages import (
    HttpResponseSeeOther,
    campaign_url,
    closed_page,
    language_activate,
    page_notice,
    page_render,
    published_campaign,
)
from participants.prefill import Prefill, prefill_get, prefill_participant
from participants.services import AlreadyParticipatedError, participation_create

logger = logging.getLogger(__name__)

# A first-party cookie naming this browser, for "once per participant" without a login.
BROWSER_COOKIE = "campaign_browser"
BROWSER_COOKIE_MAX_AGE = 365 * 24 * 3600
FORM_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
# The thank-you page's receipt: signed, so that the page needs no session (and no database).
RECEIPT_SALT = "participants.thanks"
RECEIPT_MAX_AGE_SECONDS = 24 * 3600


# ---------------------------------------------------------------------------- helpers
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


def _done_key(campaign: Campaign) -> str:
    # Written by earlier releases; still honoured by the thank-you page.
    return f"participated:{campaign.pk}"


def _receipt(campaign: Campaign) -> str:
    return signing.TimestampSigner(salt=RECEIPT_SALT).sign(str(campaign.pk))


def _receipt_valid(value: str, campaign: Campaign) -> bool:
    try:
        signed = signing.TimestampSigner(salt=RECEIPT_SALT).unsign(
            value[:200], max_age=RECEIPT_MAX_AGE_SECONDS
        )
    except signing.BadSignature:
        return False
    return signed == str(campaign.pk)


def _finish(request, campaign: Campaign) -> HttpResponse:
    """The redirect that confirms a stored participation. It relies on nothing that could still
    fail: the thank-you page reads its signed receipt, not the session, and the session
    middleware keeps this answer even when the session cannot be saved (participants/outage)."""
    url = f"{campaign_url('thanks', campaign)}?{urlencode({'r': _receipt(campaign)})}"
    response = HttpResponseSeeOther(url)
    response.confirms_stored = True
    return response


def _earlier_participations(campaign: Campaign, *, token: str, once_key: str) -> tuple[bool, bool]:
    """(this form was already submitted, this participant already took part).

    Each column is unique per campaign: one indexed lookup each, through core/statements.py
    (every form page asks the second on a campaign limited to one participation per person).
    """
    once = campaign.participation_limit == ParticipationLimit.ONCE
    token = token if FORM_TOKEN_RE.match(token) else ""
    submitted = bool(token) and row_exists(
        Participation, campaign_id=campaign.pk, submission_token=token
    )
    taken_part = once and row_exists(Participation, campaign_id=campaign.pk, once_key=once_key)
    return submitted, taken_part


# ---------------------------------------------------------------------------- pages
@require_GET
def landing(request, slug: str):
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if (closed := closed_page(request, campaign)) is not None:
        return closed
    integration = campaign.login_integration
    context = {
        "campaign": campaign,
        "integration": integration,
        "login_required": campaign.sso_mode == SSOMode.REQUIRED,
        "notice": page_notice(campaign, integration),
        "returning": remembered_login_get(request, campaign=campaign, integration=integration),
    }
    return page_render(request, "participants/landing.html", context)


class SessionJourney:
    """Where the form step keeps a participant's progress on the campaign's own pages: this
    browser's session and cookies. (In a customer's frame: participants/views_embed.py.)"""

    # A form posted without a token of ours: shown again to submit, nothing wrong with it.
    refused_status = 200

    def __init__(self, request, campaign: Campaign) -> None:
        self.request = request
        self.campaign = campaign
        # Everything read from the database before the save is guarded: with the database
        # unreachable the form is still shown, and a submitted one comes back with its answers
        # (503), never as an error page (participants/outage.py).
        self.database_down = False
        prefill = self.participant = None
        try:
            prefill = prefill_get(request, campaign)
            self.participant = prefill_participant(campaign, prefill)
        except DATABASE_UNAVAILABLE:
            _log_database_down("the participant")
            # The session's prefill, when it could be read, is shown but not trusted: the
            # submit checks the participant again once the database is back.
            self.database_down = True
        if prefill is not None and self.participant is None and not self.database_down:
            prefill = None  # the participant is gone, or the session was built for another account
        self.prefill = prefill
        self.browser_key, self.new_browser = _browser_key(request)
        self.once_key = _once_key(prefill, self.browser_key)

    def login_context(self, integration) -> dict:
        returning = remembered_login_get(
            self.request, campaign=self.campaign, integration=integration
        )
        return {"returning": returning}

    def form_token_new(self) -> str:
        return secrets.token_urlsafe(32)

    def form_token_accepted(self, token: str) -> bool:
        return bool(FORM_TOKEN_RE.match(token))

    def finish(self) -> HttpResponse:
        return _finish(self.request, self.campaign)

    def redirect(self, name: str) -> HttpResponse:
        return HttpResponseSeeOther(campaign_url(name, self.campaign))

    def page(self, template: str, context: dict, *, status: int = 200) -> HttpResponse:
        return page_render(self.request, template, context, status=status)

    def respond(self, response: HttpResponse) -> HttpResponse:
        if self.new_browser:
            return _remember_browser(response, self.browser_key)
        return response


@require_http_methods(["GET", "POST"])
def campaign_form(request, slug: str):
    campaign = published_campaign(slug)
    language = language_activate(request, campaign)
    # A form posted to a campaign that has ended meanwhile gets the ending page; nothing stored.
    if (closed := closed_page(request, campaign)) is not None:
        return closed
    journey = SessionJourney(request, campaign)
    return journey.respond(form_step(request, campaign, journey, language=language))


def form_step(request, campaign: Campaign, journey, *, language: str) -> HttpResponse:
    """The campaign form (GET) and its submission (POST), wherever the participant's progress
    is kept: `journey` is a SessionJourney or an embedded visit's (participants/views_embed)."""
    integration = campaign.login_integration
    prefill, participant = journey.prefill, journey.participant
    database_down = getattr(journey, "database_down", False)
    context = {"campaign": campaign, "integration": integration, "prefill": prefill}
    if prefill is None and not database_down:
        try:
            context["notice"] = page_notice(campaign, integration)
            context.update(journey.login_context(integration))
        except DATABASE_UNAVAILABLE:
            # The form still renders; only the notice and "Continue as" need the database.
            _log_database_down("the login notice")
            database_down = True
    token = request.POST.get("form_token", "") if request.method == "POST" else ""

    submitted = taken_part = False
    if not database_down:
        try:
            submitted, taken_part = _earlier_participations(
                campaign, token=token, once_key=journey.once_key
            )
        except DATABASE_UNAVAILABLE:
            _log_database_down("earlier participations")
            database_down = True
    # A form already submitted (double click, refresh, back then submit again): PRG.
    if submitted:
        return journey.finish()

    if campaign.sso_mode == SSOMode.REQUIRED and prefill is None:
        if request.method == "POST":
            return journey.redirect("form")
        template = (
            "participants/login_required.html"
            if integration
            else "participants/login_unavailable.html"
        )
        return journey.page(template, context)

    if taken_part:
        return journey.redirect("already")

    form_kwargs = {"fields": campaign.fields, "prefill": prefill, "language": language}
    submit = {
        "journey": journey,
        "campaign": campaign,
        "participant": participant,
        "language": language,
    }

    status = 200
    if request.method == "GET":
        form = ParticipationForm(**form_kwargs)
        token = journey.form_token_new()
        if (
            prefill is not None
            and campaign.prefill_mode == PrefillMode.AUTO_SUBMIT
            and not database_down
        ):
            values = form.auto_submit_values()
            if values is not None:
                submitted = _submit(
                    **submit, form=form, values=values, token=prefill.auto_submit_token
                )
                if submitted is not None:
                    return submitted
                context["save_failed"], status = True, 503
    else:
        form = ParticipationForm(request.POST, **form_kwargs)
        if not journey.form_token_accepted(token):
            # Not a form we served: check and submit again, with a token of our own.
            context["token_missing"] = True
            form.is_valid()
            token = journey.form_token_new()
            status = journey.refused_status
        elif form.is_valid() and database_down:
            # Nothing can be stored now: the answers come back with the same token.
            context["save_failed"], status = True, 503
        elif form.is_valid():
            submitted = _submit(**submit, form=form, values=form.submitted_values(), token=token)
            if submitted is not None:
                return submitted
            # Kept: the same token, so that submitting again stores the participation once.
            context["save_failed"], status = True, 503
    kept = campaign.rendered_form_rows if isinstance(campaign, PublishedCampaign) else None
    context.update(form=form, form_token=token, **form.rows_rendered(kept))
    response = journey.page("participants/form.html", context, status=status)
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _log_database_down(what: str) -> None:
    logger.warning("campaign form: %s not read, database unavailable", what, exc_info=True)


def _submit(*, journey, campaign, form, values, participant, language, token):
    """The redirect after storing the participation; None when the database is unavailable."""
    try:
        participation_create(
            campaign=campaign,
            values=values,
            prefilled=form.prefilled,
            from_idp=form.idp_variables,
            participant=participant,
            language=language,
            submission_token=token,
            once_key=journey.once_key,
        )
    except AlreadyParticipatedError:
        return journey.redirect("already")
    except DATABASE_UNAVAILABLE:
        # Locked, restarting or unreachable: the transaction rolled back, nothing is stored
        # (or, when the commit itself was cut off, perhaps stored: the same token submitted
        # again then finds it and confirms it). The participant gets their answers back to
        # submit again (503), not an error page.
        logger.warning("participation not stored: database unavailable", exc_info=True)
        return None
    return journey.finish()


@require_GET
def thanks(request, slug: str):
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if campaign is None:
        return closed_page(request, campaign)
    receipt = request.GET.get("r", "")
    if not (receipt and _receipt_valid(receipt, campaign)) and not request.session.get(
        _done_key(campaign)
    ):
        return HttpResponseRedirect(campaign_url("landing", campaign))
    return page_render(request, "participants/thanks.html", {"campaign": campaign})


@require_GET
def already(request, slug: str):
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if campaign is None:
        return closed_page(request, campaign)
    return page_render(request, "participants/already.html", {"campaign": campaign})


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
        campaign = published_campaign(match.kwargs.get("slug", ""))
    language = language_activate(request, campaign)
    context = {"campaign": campaign}
    if campaign is not None and campaign.is_open:
        prefill = prefill_get(request, campaign)
        if prefill is None or campaign.sso_mode != SSOMode.REQUIRED:
            form = ParticipationForm(
                request.POST,
                fields=campaign.fields,
                prefill=prefill,
                language=language,
            )
            form.is_valid()
            context.update(
                form=form,
                **form.rows_rendered(None),
                form_token=secrets.token_urlsafe(32),
                integration=campaign.oauth_integration,
                notice=None if prefill else page_notice(campaign, campaign.login_integration),
                returning=None
                if prefill
                else remembered_login_get(
                    request, campaign=campaign, integration=campaign.login_integration
                ),
                prefill=prefill,
                csrf_failed=True,
            )
            return page_render(request, "participants/form.html", context, status=403)
    return page_render(request, "participants/csrf_failure.html", context, status=403)
