"""What every public campaign page shares: its opening and its rendering.

Each view opens the same way: the published campaign (`published_campaign`), the language
(`language_activate`), then the page for a campaign that is not open (`closed_page`); it
renders through `page_render`, which adds the language switch and the privacy policy link.
The campaign pages (views.py), the framed ones (views_embed.py), the login's (login/views.py,
login/remembered_views.py) and the failure pages (views_failures.py) all use these.
"""

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.http import urlencode

from campaigns.lookup import PublishedCampaign, public_campaign
from campaigns.models import Campaign
from core.links import path_of
from participants.notice import login_notice

LANGUAGE_NAMES = dict(settings.LANGUAGES)
# How long the language a participant picked is kept in their browser.
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def published_campaign(slug: str) -> Campaign | None:
    """The published campaign with this slug; drafts do not exist for the public."""
    return public_campaign(slug)


def language_activate(request, campaign: Campaign | None) -> str:
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


def language_chosen(request) -> str | None:
    """The language this request asked for with ?lang= (and the campaign offers), else None."""
    return getattr(request, "_explicit_language", None)


def page_render(
    request, template: str, context: dict, *, status: int = 200, query: dict | None = None
) -> HttpResponse:
    """Render a campaign page. `query`: what every link to another language must keep (the
    embedded pages' token); with it, the language chosen is not kept in a cookie either."""
    campaign = context.get("campaign")
    language = translation.get_language()
    if campaign is not None:
        # At the foot of every page of the campaign: the form collects data too, login or not.
        context.setdefault("privacy_policy_url", campaign.privacy_policy_link)
    # A page of no campaign (not found, an error) is offered in every language.
    offered = campaign.offered_languages if campaign is not None else list(LANGUAGE_NAMES)
    kept_query = _kept_query(request)
    if len(offered) > 1 and "language_links" not in context:
        context["language_links"] = [
            {
                "code": code,
                "name": LANGUAGE_NAMES[code],
                # The embedded pages' token and the thank-you page's receipt go along: they
                # are what lets those pages show.
                "url": f"{request.path}?"
                + urlencode({**(query or {}), "lang": code, **kept_query}),
                "current": code == language,
            }
            for code in offered
        ]
    if query is None and not kept_query:
        context["page_parts"] = page_parts(campaign, language, request.path)
    response = render(request, template, context, status=status)
    if query is None:
        language_keep(request, response)
    return response


# The paths whose parts one campaign keeps: its pages are a handful, and a URL that names the
# campaign with a free segment (a callback key) must not grow the process's memory.
PAGE_PARTS_PATHS = 32


def page_parts(campaign, language: str, path: str) -> dict | None:
    """Where the `{% page_part %}` blocks of a page of `campaign` in `language` at `path` keep
    what they rendered (participants/templatetags/page_parts.py), or None: not a published
    campaign (a page of no campaign, a preview of a model), or too many paths already.

    The header, the language switch and the footer of a campaign's page show its title, its
    languages, its privacy policy and links to this path: the same for every participant, and
    rendered again each time they cost about 0.45 million instructions a page, 6 to 11 % of its
    request (BENCHMARKS.md, "Thirteenth round"). Pages whose links carry more (an embedded
    page's token, the thank-you page's receipt) are never given one."""
    if not isinstance(campaign, PublishedCampaign):
        return None
    kept = campaign.rendered_parts
    parts = kept.get((language, path))
    if parts is None and len(kept) < PAGE_PARTS_PATHS:
        parts = kept.setdefault((language, path), {})
    return parts


def language_keep(request, response: HttpResponse) -> HttpResponse:
    """Keep the language this request chose with ?lang= in the browser's language cookie, for
    the campaign's next pages (nothing when it chose none). Not on the embedded pages: a
    customer's frame keeps its language in its links."""
    explicit = language_chosen(request)
    if explicit:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            explicit,
            max_age=LANGUAGE_COOKIE_MAX_AGE,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    return response


def _kept_query(request) -> dict[str, str]:
    receipt = request.GET.get("r", "")
    return {"r": receipt} if receipt else {}


def closed_page(
    request, campaign: Campaign | None, *, context: dict | None = None, query: dict | None = None
) -> HttpResponse | None:
    """The page for a campaign that cannot take participations now, or None when it is open.

    `context` and `query` as for `page_render` (the embedded pages' own)."""
    context = context or {}
    if campaign is None:
        return page_render(request, "participants/unknown.html", context, status=404, query=query)
    context = {**context, "campaign": campaign}
    if campaign.has_ended:
        return page_render(request, "participants/ended.html", context, status=410, query=query)
    if not campaign.has_started:
        return page_render(request, "participants/not_started.html", context, query=query)
    return None


def campaign_url(name: str, campaign: Campaign) -> str:
    """The path of the campaign's page `name` ("landing", "form", "thanks"…)."""
    return path_of(f"participants:{name}", campaign.slug)


def page_notice(campaign: Campaign, integration):
    """What a login would share with the campaign, or None when it offers no login."""
    if integration is None:
        return None
    return login_notice(
        campaign=campaign, integration=integration, language=translation.get_language()
    )
