"""The "category" filter shared by the integration changelists ("SSO", "Webhooks").

Like the original's Settings → Integrations: each category is its own changelist, and the
filter links between them. A category appears only when its admin is installed and the user
may use it in at least one account.
"""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from accounts.permissions import Capability, can_anywhere

# category: (label, changelist URL name, capability needed to see it)
CATEGORIES = {
    "sso": ("SSO", "admin:integrations_oauthintegration_changelist", Capability.MANAGE_OAUTH),
    "webhooks": (
        "Webhooks",
        "admin:integrations_webhookendpoint_changelist",
        Capability.MANAGE_WEBHOOKS,
    ),
}
PARAMETER = "category"


def category_url(category: str, user) -> str | None:
    """The changelist of `category`, if installed and open to `user`."""
    _, url_name, capability = CATEGORIES[category]
    if not can_anywhere(user, capability):
        return None
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return None


class IntegrationCategoryFilter(admin.SimpleListFilter):
    """Subclass with `category` set to the changelist's own category."""

    title = "category"
    parameter_name = PARAMETER
    category = "sso"

    def __init__(self, request, params, model, model_admin):
        self.request = request
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in CATEGORIES.items()]

    def queryset(self, request, queryset):
        # The changelist holds one category; the others are other changelists.
        return queryset

    def choices(self, changelist):
        for key, (label, _, _) in CATEGORIES.items():
            if key == self.category:
                yield {
                    "selected": True,
                    "query_string": changelist.get_query_string(remove=[self.parameter_name]),
                    "display": label,
                }
            elif url := category_url(key, self.request.user):
                yield {"selected": False, "query_string": url, "display": label}


def other_category_redirect(request, own: str) -> str | None:
    """Where `?category=<another>` on the `own` changelist should lead, if anywhere."""
    wanted = request.GET.get(PARAMETER)
    if wanted in CATEGORIES and wanted != own:
        return category_url(wanted, request.user)
    return None
