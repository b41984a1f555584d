from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "participants"
    verbose_name = "Participants"

    def ready(self):
        # The SSO activity admin lives in its own module; admin autodiscovery only imports admin.py.
        from . import admin_sso  # noqa: F401
