"""The task queues' admin pages (webhook deliveries run in them), for platform staff alone."""

from functools import wraps

from django.apps import apps
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import URLPattern
from django_tasks_db.admin import DBTaskResultAdmin

from accounts.admin import PlatformStaffOnlyMixin
from accounts.permissions import is_platform_staff


class StaffDBTaskResultAdmin(PlatformStaffOnlyMixin, DBTaskResultAdmin):
    pass


def _platform_staff_only(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_platform_staff(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


class StaffQueueAdmin(PlatformStaffOnlyMixin):
    """Mixed into django-rq's QueueAdmin when TASKS_BACKEND=rq (see `queue_admins_register`).

    django-rq's queue dashboard lets any staff user see and act on every job of every account
    (its views only ask for `is_staff`, which customer users are, to open the admin): for
    platform staff alone, every one of its admin URLs included.
    """

    def get_urls(self):
        return [
            URLPattern(url.pattern, _platform_staff_only(url.callback), url.default_args, url.name)
            if isinstance(url, URLPattern)
            else url
            for url in super().get_urls()
        ]


def queue_admins_register(site: admin.AdminSite) -> None:
    """Replace the task backends' own admins (registered by their apps) with staff-only ones."""
    from django_tasks_db.models import DBTaskResult

    if site.is_registered(DBTaskResult):
        site.unregister(DBTaskResult)
    site.register(DBTaskResult, StaffDBTaskResultAdmin)
    if apps.is_installed("django_rq"):  # TASKS_BACKEND=rq
        from django_rq.admin import QueueAdmin
        from django_rq.models import Dashboard

        if site.is_registered(Dashboard):
            site.unregister(Dashboard)
        site.register(Dashboard, type("StaffQueueAdmin", (StaffQueueAdmin, QueueAdmin), {}))
