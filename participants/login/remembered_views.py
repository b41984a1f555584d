"""The campaign pages' "Continue as <first name>" and "Not you?" buttons
(participants/login/remembered.py).

Both are POSTs with the CSRF token, never links that a prefetcher could follow.
"""

from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from participants.login.remembered import (
    remembered_login_forget,
    remembered_login_get,
    sso_state_forget,
)
from participants.pages import (
    HttpResponseSeeOther,
    campaign_url,
    closed_page,
    language_activate,
    language_chosen,
    published_campaign,
)
from participants.prefill import prefill_set


def _with_language(request, url: str) -> str:
    explicit = language_chosen(request)
    return f"{url}?{urlencode({'lang': explicit})}" if explicit else url


@require_POST
@never_cache
def continue_as(request, slug: str):
    """Prefill the campaign from this browser's remembered login, without going to the IdP;
    outside the window (or when the mapping now needs what the profile lacks), a normal login."""
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if (closed := closed_page(request, campaign)) is not None:
        return closed
    form = _with_language(request, campaign_url("form", campaign))
    integration = campaign.login_integration
    if integration is None:
        return HttpResponseSeeOther(form)
    returning = remembered_login_get(request, campaign=campaign, integration=integration)
    if returning is None or returning.mapped.missing_required:
        if returning is not None:
            remembered_login_forget(request, integration_id=integration.pk)
        login = reverse("participants:login_start", args=[campaign.slug])
        query = {"next": campaign_url("form", campaign)}
        if explicit := language_chosen(request):
            query["lang"] = explicit
        return HttpResponseSeeOther(f"{login}?{urlencode(query)}")
    # Derived now, from the stored profile, through the integration's current mapping.
    prefill_set(
        request,
        campaign,
        participant_id=returning.participant_id,
        values=returning.mapped.values,
        integration_name=integration.display_name,
        targets=returning.mapped.targets,
    )
    return HttpResponseSeeOther(form)


@require_POST
@never_cache
def not_you(request, slug: str):
    """Drop this browser's login on the campaign and show the form again, empty."""
    campaign = published_campaign(slug)
    language_activate(request, campaign)
    if campaign is None:
        return closed_page(request, campaign)
    # Also on a campaign that has ended: forgetting someone is always allowed.
    sso_state_forget(request, campaign)
    return HttpResponseSeeOther(_with_language(request, campaign_url("form", campaign)))
