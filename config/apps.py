from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    """Django's admin, with `config.admin_site.AdminSite` as `admin.site`."""

    default_site = "config.admin_site.AdminSite"
