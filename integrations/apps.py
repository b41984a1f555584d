from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from .mapping import store  # noqa: F401  (connects the rules cache's invalidation)
