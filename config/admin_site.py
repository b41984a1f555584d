"""The admin site: Django's, under the product's name (`PRODUCT_NAME`), with a header that says
who is looking (platform staff, or their role and account).

The stock admin, branded with our own stylesheet (static/admin_brand/brand.css), rather than an
admin theme: the themes tried (Unfold, Jazzmin) need `unsafe-eval` or inline scripts that our
Content-Security-Policy refuses, load fonts from another origin, and restyle none of our own
pages (mapping, SSO activity, webhooks), which would then look foreign inside them.
"""

from django.conf import settings
from django.contrib import admin

from accounts.models import Membership, Role
from accounts.permissions import is_platform_staff


def viewer_description(user) -> str:
    """The header's line about the user: Platform staff, or their role and account."""
    if is_platform_staff(user):
        return "Platform staff"
    memberships = list(
        Membership.objects.filter(user=user, account__is_active=True)
        .select_related("account")
        .order_by("account__name")[:3]
    )
    if not memberships:
        return ""
    if len(memberships) == 1:
        membership = memberships[0]
        return f"{Role(membership.role).label}, {membership.account.name}"
    return "Member of several accounts"


class AdminSite(admin.AdminSite):
    index_title = "Dashboard"
    # One sign for "nothing here", the one our own pages use (Django's default is "-").
    empty_value_display = "—"
    # The site's home page, which says what this is (participants reach campaigns by their
    # own links); the dashboard links each live campaign's public page.
    site_url = "/"

    @property
    def site_header(self) -> str:
        return settings.PRODUCT_NAME

    @property
    def site_title(self) -> str:
        return settings.PRODUCT_NAME

    def each_context(self, request):
        context = super().each_context(request)
        context["product_name"] = settings.PRODUCT_NAME
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_staff:
            context["viewer_description"] = viewer_description(user)
        return context

    def index(self, request, extra_context=None):
        # The dashboard reads every app's models: imported once the apps are loaded.
        from participants.dashboard import dashboard_for

        dashboard = dashboard_for(user=request.user, account_id=request.GET.get("account"))
        return super().index(request, {"dashboard": dashboard, **(extra_context or {})})
