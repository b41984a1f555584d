from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"
    verbose_name = "Integrations"

    def ready(self):
        from integrations import checks  # noqa: F401  (registers the system checks)
        from integrations.mapping import store  # noqa: F401  (connects the rules cache's invalidation)
