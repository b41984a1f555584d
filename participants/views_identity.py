"""The campaign pages' "Not you?" button: a POST, never a link that a prefetcher could follow."""

from django.http import HttpResponseRedirect
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .identity import sso_state_forget
from .views import _activate_language, _campaign, _closed_page, _url


class _HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def _form_again(request, campaign) -> HttpResponseRedirect:
    url = _url("form", campaign)
    explicit = getattr(request, "_explicit_language", None)
    if explicit:
        url += "?" + urlencode({"lang": explicit})
    return _HttpResponseSeeOther(url)


@require_POST
@never_cache
def not_you(request, slug: str):
    """Drop this browser's login on the campaign and show the form again, empty."""
    campaign = _campaign(slug)
    _activate_language(request, campaign)
    if campaign is None:
        return _closed_page(request, campaign)
    # Also on a campaign that has ended: forgetting someone is always allowed.
    sso_state_forget(request, campaign)
    return _form_again(request, campaign)
