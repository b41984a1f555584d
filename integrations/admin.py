from django.contrib import admin
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from accounts.admin import PlatformStaffOnlyMixin

from . import admin_webhooks  # noqa: F401  (registers the webhook admins)

# The task queue (webhook deliveries run in it) is for platform staff to watch.
admin.site.unregister(DBTaskResult)


@admin.register(DBTaskResult)
class StaffDBTaskResultAdmin(PlatformStaffOnlyMixin, DBTaskResultAdmin):
    pass
