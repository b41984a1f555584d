"""The page a failed login ends on (`failure_page`), and the same page in another language
(`sign_in_problem`, where its language switch leads).

The callback's own URL cannot be opened again to switch languages: its state is spent, and a
second visit would be another failure. The switch leads to `/sso/problem/` with what the page
shows (the failure's kind, its reference, the campaign, the fields the IdP did not give and
the page to return to), which renders the same page and does nothing else.
"""

import re

from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from campaigns.lookup import PublishedCampaign
from campaigns.models import Campaign, SSOMode
from participants.login.failures import PAGES
from participants.login.state import return_to_safe
from participants.pages import LANGUAGE_NAMES, language_activate, published_campaign

REFERENCE = re.compile(r"[0-9A-F]{8}")
VARIABLE = re.compile(r"[a-z][a-z0-9_]{0,49}")


def _labels(campaign: Campaign | PublishedCampaign | None, variables: list[str]) -> list[str]:
    if not variables or campaign is None:
        return [*variables]
    # The callback's failure has the attempt's campaign (a model); the page in another language
    # has the published one (campaigns/lookup.py).
    rows = campaign.fields if isinstance(campaign, PublishedCampaign) else campaign.fields.all()
    fields = {f.variable: f for f in rows}
    return [fields[v].label() if v in fields else v for v in variables]


def failure_page(
    request,
    *,
    kind: str,
    reference: str,
    campaign: Campaign | None,
    return_to: str = "",
    missing: list[str] | None = None,
    in_popup: bool = False,
    retry_after: int | None = None,
):
    """The participant's page for a failed login, in the active language, with its status.

    `in_popup`: the login pop-up of an embedded campaign, where the frame offers to log in
    again (no links into the campaign from the pop-up). `retry_after`: seconds for the
    Retry-After header (an IdP paused by its breaker or bulkhead).

    Where retrying cannot help (the organiser's settings must change first), "Try again" is
    offered but not as the main button: that is "Continue without logging in" when the
    campaign allows it, else "Back to the campaign".
    """
    failure = PAGES[kind]
    context = {
        "campaign": campaign,
        "failure": failure,
        "reference": reference,
        "missing_labels": _labels(campaign, missing or []),
    }
    if in_popup:
        context["in_popup"] = True
    elif campaign is not None and campaign.is_open:
        if failure.retry and campaign.login_integration is not None:
            login = reverse("participants:login_start", args=[campaign.slug])
            context["retry_url"] = f"{login}?{urlencode({'next': return_to})}"
        if campaign.sso_mode == SSOMode.OPTIONAL:
            context["manual_url"] = reverse("participants:form", args=[campaign.slug])
        context["campaign_url"] = reverse("participants:landing", args=[campaign.slug])
        context["privacy_policy_url"] = campaign.privacy_policy_link
    offered = campaign.offered_languages if campaign is not None else list(LANGUAGE_NAMES)
    if len(offered) > 1:
        query = {"kind": kind, "ref": reference}
        if campaign is not None:
            query["c"] = campaign.slug
        if return_to:
            query["next"] = return_to
        problem = reverse("participants:sign_in_problem")
        missing_query = "".join(f"&m={variable}" for variable in missing or [])
        language = translation.get_language()
        context["language_links"] = [
            {
                "code": code,
                "name": LANGUAGE_NAMES[code],
                "url": f"{problem}?{urlencode({**query, 'lang': code})}{missing_query}",
                "current": code == language,
            }
            for code in offered
        ]
    response = render(request, "participants/sso_error.html", context, status=failure.status)
    # The callback URL held a code and a state; nothing may leak them onwards (RFC 9700 §4.2.4).
    response["Referrer-Policy"] = "no-referrer"
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@require_GET
def sign_in_problem(request):
    """A failure page again, in the language asked for: shows, never does anything."""
    kind = request.GET.get("kind", "")
    if kind not in PAGES:
        kind = "state_unknown"
    reference = request.GET.get("ref", "")
    if not REFERENCE.fullmatch(reference):
        reference = "—"
    campaign = published_campaign(request.GET.get("c", "")) if request.GET.get("c") else None
    language_activate(request, campaign)
    return_to = ""
    if campaign is not None:
        return_to = return_to_safe(
            request.GET.get("next", ""),
            default=reverse("participants:form", args=[campaign.slug]),
            campaign_slug=campaign.slug,
        )
    missing = [v for v in request.GET.getlist("m")[:50] if VARIABLE.fullmatch(v)]
    return failure_page(
        request,
        kind=kind,
        reference=reference,
        campaign=campaign,
        return_to=return_to,
        missing=missing,
    )
