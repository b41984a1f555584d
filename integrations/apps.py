from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
        from .mapping import store  # noqa: F401  (connects the rules cache's invalidation)
