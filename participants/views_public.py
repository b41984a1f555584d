"""Public pages outside a campaign's steps: the site's home page."""

from django.conf import settings
from django.views.decorators.http import require_GET

from participants.views import _activate_language, _page


@require_GET
def home(request):
    """What this site is, for whoever opens its address (the admin's "View site" too):
    participants reach campaigns through the links they were given."""
    _activate_language(request, None)
    return _page(request, "participants/home.html", {"product_name": settings.PRODUCT_NAME})
