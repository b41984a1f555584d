"""A campaign inside a customer's frame (`/e/<slug>/…`), and the login pop-up it opens.

**In the frame** (`framed` views): only the sites the campaign allows may show these pages (CSP
`frame-ancestors`, and no X-Frame-Options, which cannot name them); everywhere else they stay
`'none'` like every other page. No cookie is read or set: the participant's progress is an
embedded visit whose token is in the frame's addresses and forms (participants/embedding.py),
so they send `Referrer-Policy: no-referrer` and are never cached. They post their height to
the page around them (static/participants/embed.js).

**In the pop-up**: a top-level window on our own origin, first-party, where the usual login
works (`sso_browser` cookie, session). It ends on `embed_login_done`, whose script hands the
ticket to the frame that opened it (static/participants/popup.js); when it cannot, the
participant goes on in the pop-up itself ("Continue in this window", the campaign's own form).
"""

import functools
import logging
from dataclasses import dataclass
from functools import cached_property

from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns.models import Campaign, SSOMode
from integrations.oauth.breaker import circuit_is_open
from participants.embedding import (
    TicketError,
    embed_form_token_new,
    embed_form_token_spend,
    embed_form_token_valid,
    embed_prefill_clear,
    embed_prefill_get,
    embed_session_get,
    embed_session_participated,
    embed_session_start,
    embed_ticket_kept,
    embed_ticket_redeem,
    embed_ticket_take,
)
from participants.login.start import (
    idp_redirect,
    keeps_opener,
    login_paused_page,
    login_unavailable_page,
    no_referrer,
)
from participants.models import EmbedSession
from participants.pages import (
    HttpResponseSeeOther,
    closed_page,
    language_activate,
    page_notice,
    page_render,
    published_campaign,
)
from participants.prefill import prefill_participant, prefill_set
from participants.ratelimit import rate_limited
from participants.views import form_step

logger = logging.getLogger(__name__)

# The window the frame opens to log in: its name, so that a second click reuses it.
POPUP_NAME = "campaign-sso-login"


# ---------------------------------------------------------------------------- frame headers
def _frame_headers(response: HttpResponse, campaign: Campaign | None) -> HttpResponse:
    origins = campaign.frame_ancestors if campaign is not None else []
    response._csp_replace = {"frame-ancestors": origins or ["'none'"]}
    if origins:
        # X-Frame-Options cannot name sites; browsers that know frame-ancestors ignore it.
        response.xframe_options_exempt = True
    # The visit's token is in these pages' addresses: never in a Referer, never in a cache.
    response["Referrer-Policy"] = "no-referrer"
    add_never_cache_headers(response)
    return response


def framed(view):
    """A page shown in the customer's frame. Cookies cannot be relied on there, so it is
    exempt from Django's CSRF check, which needs the CSRF cookie: every POST it takes is
    checked against the embedded visit's one-time form token instead (`EmbedJourney`,
    `embed_form_token_spend`), a secret only the page we served in that frame knows."""

    @functools.wraps(view)
    def wrapped(request, slug: str):
        return _frame_headers(view(request, slug), published_campaign(slug))

    return csrf_exempt(wrapped)


@dataclass(frozen=True)
class EmbedPage:
    """What a framed page's templates need for their links and forms."""

    slug: str
    token: str
    language: str
    # Where the height message goes: the one site allowed to frame the campaign, else "*".
    parent_origin: str

    def _path(self, name: str) -> str:
        return reverse(f"participants:{name}", args=[self.slug])

    def _url(self, name: str) -> str:
        return f"{self._path(name)}?{urlencode({'t': self.token, 'lang': self.language})}"

    def _action(self, name: str) -> str:
        # A POST carries the token in its body, not in the address.
        return f"{self._path(name)}?{urlencode({'lang': self.language})}"

    @property
    def landing_url(self) -> str:
        return self._url("embed_landing")

    @property
    def form_url(self) -> str:
        return self._url("embed_form")

    @property
    def login_url(self) -> str:
        return self._url("embed_login_start")

    @property
    def form_action(self) -> str:
        return self._action("embed_form")

    @property
    def not_you_action(self) -> str:
        return self._action("embed_not_you")

    @property
    def redeem_action(self) -> str:
        return self._action("embed_redeem")

    @property
    def new_tab_url(self) -> str:
        """The campaign's own pages, top-level, where logging in needs no pop-up."""
        return f"{self._path('landing')}?{urlencode({'lang': self.language})}"

    @property
    def popup_name(self) -> str:
        return POPUP_NAME


def embed_page(request, campaign: Campaign, token: str) -> EmbedPage:
    origins = campaign.frame_ancestors
    return EmbedPage(
        slug=campaign.slug,
        token=token,
        language=request.LANGUAGE_CODE,
        parent_origin=origins[0] if len(origins) == 1 else "*",
    )


def _framed_page(request, campaign, template, context, *, token="", status=200) -> HttpResponse:
    """A framed page that is no step of the form (thank-you, refusals): it still posts its
    height, and its language links keep the visit."""
    context = {**context, "campaign": campaign, "embed": embed_page(request, campaign, token)}
    query = {"t": token} if token else {}
    return page_render(request, template, context, status=status, query=query)


def _framed_closed(request, campaign: Campaign | None) -> HttpResponse | None:
    """The page for a campaign that is not open (or unknown), inside the frame."""
    token = (request.POST if request.method == "POST" else request.GET).get("t", "")
    token = token if isinstance(token, str) and len(token) < 100 else ""
    context = {"embed": embed_page(request, campaign, token)} if campaign is not None else {}
    return closed_page(request, campaign, context=context, query={"t": token} if token else {})


class EmbedJourney:
    """Where the form step keeps a participant's progress inside the frame: the embedded visit
    (see SessionJourney for the campaign's own pages)."""

    # A form posted without the visit's current form token: refused like a failed CSRF check,
    # with the answers shown again to submit.
    refused_status = 403

    def __init__(self, request, campaign: Campaign, *, source) -> None:
        self.request = request
        self.campaign = campaign
        token = source.get("t", "")
        visit = embed_session_get(campaign=campaign, token=token)
        # A token that no longer works (expired, another campaign's): a new visit, and say so.
        self.restarted = visit is None and bool(token)
        if visit is None:
            visit, token = embed_session_start(campaign=campaign)
        self.visit: EmbedSession = visit
        self.token: str = token
        prefill = embed_prefill_get(visit)
        self.participant = prefill_participant(campaign, prefill)
        if self.participant is None:
            prefill = None
        self.prefill = prefill
        # Without a login, "once per participant" can only mean once per visit in the frame.
        self.once_key = f"p:{prefill.participant_id}" if prefill else f"e:{visit.pk}"

    @cached_property
    def embed(self) -> EmbedPage:
        return embed_page(self.request, self.campaign, self.token)

    def login_context(self, integration) -> dict:
        return {}  # "Continue as" needs the browser's session: not in a frame

    def form_token_new(self) -> str:
        return embed_form_token_new(self.visit)

    def form_token_accepted(self, token: str) -> bool:
        return embed_form_token_valid(self.visit, token)

    def finish(self) -> HttpResponse:
        embed_session_participated(self.visit)
        return HttpResponseSeeOther(self.embed._url("embed_thanks"))

    def redirect(self, name: str) -> HttpResponse:
        return HttpResponseSeeOther(self.embed._url(f"embed_{name}"))

    def page(self, template: str, context: dict, *, status: int = 200) -> HttpResponse:
        context["embed"] = self.embed
        context.setdefault("visit_restarted", self.restarted)
        if "form_token" not in context and context.get("integration") is not None:
            # The login button's hidden form (the ticket) posts one too.
            context["form_token"] = self.form_token_new()
        return page_render(self.request, template, context, status=status, query={"t": self.token})

    def respond(self, response: HttpResponse) -> HttpResponse:
        return response


# ---------------------------------------------------------------------------- framed pages
@require_GET
@framed
def embed_landing(request, slug: str):
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if (closed := _framed_closed(request, campaign)) is not None:
        return closed
    journey = EmbedJourney(request, campaign, source=request.GET)
    integration = campaign.login_integration
    context = {
        "campaign": campaign,
        "integration": integration,
        "login_required": campaign.sso_mode == SSOMode.REQUIRED,
        "notice": page_notice(campaign, integration),
    }
    return journey.page("participants/landing.html", context)


@require_http_methods(["GET", "POST"])
@framed
def embed_form(request, slug: str):
    campaign = published_campaign(slug)
    language = language_activate(request, campaign)
    if (closed := _framed_closed(request, campaign)) is not None:
        return closed
    source = request.POST if request.method == "POST" else request.GET
    journey = EmbedJourney(request, campaign, source=source)
    return form_step(request, campaign, journey, language=language)


@require_GET
@framed
def embed_thanks(request, slug: str):
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if campaign is None:
        return _framed_closed(request, campaign)
    token = request.GET.get("t", "")
    visit = embed_session_get(campaign=campaign, token=token)
    if visit is None or visit.participated_at is None:
        return HttpResponseRedirect(_landing(campaign, request))
    return _framed_page(request, campaign, "participants/thanks.html", {}, token=token)


@require_GET
@framed
def embed_already(request, slug: str):
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if campaign is None:
        return _framed_closed(request, campaign)
    token = request.GET.get("t", "")
    if embed_session_get(campaign=campaign, token=token) is None:
        token = ""
    return _framed_page(request, campaign, "participants/already.html", {}, token=token)


@require_POST
@framed
def embed_not_you(request, slug: str):
    """Forget the login of this visit: the form comes back empty, nothing is sent."""
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if campaign is None:
        return _framed_closed(request, campaign)
    visit = embed_session_get(campaign=campaign, token=request.POST.get("t", ""))
    if visit is None or not embed_form_token_spend(visit, request.POST.get("form_token", "")):
        return _refused(request, campaign, visit)
    embed_prefill_clear(visit)
    return HttpResponseSeeOther(_visit_url(request, campaign, "embed_form"))


@require_POST
@framed
def embed_redeem(request, slug: str):
    """The frame got a ticket from its login pop-up: the visit takes the login over."""
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if (closed := _framed_closed(request, campaign)) is not None:
        return closed
    visit = embed_session_get(campaign=campaign, token=request.POST.get("t", ""))
    if visit is None or not embed_form_token_spend(visit, request.POST.get("form_token", "")):
        return _refused(request, campaign, visit)
    try:
        embed_ticket_redeem(visit=visit, ticket=request.POST.get("ticket", ""))
    except TicketError as error:
        logger.warning("embedded login refused: %s visit=%s", error.code, visit.pk)
        journey = EmbedJourney(request, campaign, source=request.POST)
        context = {"campaign": campaign, "integration": campaign.login_integration}
        return journey.page("participants/embed_login_refused.html", context, status=400)
    return HttpResponseSeeOther(_visit_url(request, campaign, "embed_form"))


def _refused(request, campaign: Campaign, visit: EmbedSession | None) -> HttpResponse:
    """A POST without the visit's current form token (or after the visit ended): nothing done."""
    url = _visit_url(request, campaign, "embed_form") if visit else _landing(campaign, request)
    token = request.POST.get("t", "") if visit else ""
    context = {"back_url": url}
    return _framed_page(
        request, campaign, "participants/embed_refused.html", context, token=token, status=403
    )


def _visit_url(request, campaign: Campaign, name: str) -> str:
    query = urlencode({"t": request.POST.get("t", ""), "lang": request.LANGUAGE_CODE})
    return f"{reverse(f'participants:{name}', args=[campaign.slug])}?{query}"


def _landing(campaign: Campaign, request) -> str:
    url = reverse("participants:embed_landing", args=[campaign.slug])
    return f"{url}?{urlencode({'lang': request.LANGUAGE_CODE})}"


# ---------------------------------------------------------------------------- the pop-up
def _popup_page(request, campaign, state: str, *, status: int = 200, **context) -> HttpResponse:
    context.update(campaign=campaign, state=state)
    return page_render(request, "participants/embed_popup.html", context, status=status)


@require_GET
@never_cache
@rate_limited("login", per=("ip", "campaign"), campaign=lambda request, slug: slug)
def embed_login_start(request, slug: str):
    """The pop-up's first page: the login of the frame whose visit token it was given."""
    campaign = published_campaign(slug)
    language = language_activate(request, campaign)
    if (closed := closed_page(request, campaign)) is not None:
        return closed
    visit = embed_session_get(campaign=campaign, token=request.GET.get("t", ""))
    if visit is None:
        # Its address holds the visit's token: not to be passed on by its links.
        return no_referrer(_popup_page(request, campaign, "visit_expired", status=400))
    integration = campaign.login_integration
    if integration is None:
        return login_unavailable_page(request, campaign)
    if circuit_is_open(integration_id=integration.pk):
        return login_paused_page(request, campaign)
    done = reverse("participants:embed_login_done", args=[campaign.slug])
    response = idp_redirect(
        request,
        integration=integration,
        campaign=campaign,
        return_to=done,
        language=language,
        embed_session=visit,
    )
    if response is None:
        return login_unavailable_page(request, campaign)
    return keeps_opener(response)


@require_GET
@never_cache
def embed_login_done(request, slug: str):
    """The pop-up's last page: its script hands the ticket to the frame and closes."""
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if campaign is None:
        return closed_page(request, campaign)
    ticket = embed_ticket_kept(request, campaign=campaign)
    # Its script needs the window that opened this one: the frame, inside another site's page.
    return keeps_opener(
        _popup_page(request, campaign, "done" if ticket else "nothing", ticket=ticket)
    )


@require_POST
@never_cache
def embed_login_continue(request, slug: str):
    """The ticket could not reach the frame: go on in the pop-up, on the campaign's own form
    (a top-level page of ours: the session works there). CSRF-checked like any of them."""
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if (closed := closed_page(request, campaign)) is not None:
        return closed
    try:
        prefill = embed_ticket_take(
            ticket=embed_ticket_kept(request, campaign=campaign, remove=True), campaign=campaign
        )
    except TicketError as error:
        logger.info("embedded login not continued in the pop-up: %s", error.code)
        return _popup_page(request, campaign, "handed_over", status=400)
    prefill_set(
        request,
        campaign,
        participant_id=prefill.participant_id,
        values=prefill.values,
        integration_name=prefill.integration_name,
        targets=prefill.targets,
    )
    form = reverse("participants:form", args=[campaign.slug])
    return HttpResponseSeeOther(f"{form}?{urlencode({'lang': request.LANGUAGE_CODE})}")
