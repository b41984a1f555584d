"""Public pages outside a campaign's steps: the site's home page."""

from django.conf import settings
from django.views.decorators.http import require_GET

from participants.pages import language_activate, page_render


@require_GET
def home(request):
    """What this site is, for whoever opens its address (the admin's "View site" too):
    participants reach campaigns through the links they were given."""
    language_activate(request, None)
    return page_render(request, "participants/home.html", {"product_name": settings.PRODUCT_NAME})
