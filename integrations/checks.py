"""System checks of the integrations' settings (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

# Loosen the egress guard (integrations/egress/policy.py) for a demo on one machine.
# config/settings.py ignores them with DEBUG off; this check says so, since `make run` writes them
# into the `.env` that a production start on the same machine reads too.
DEVELOPMENT_FLAGS = ("ALLOW_HTTP_LOOPBACK_ENDPOINTS", "ALLOW_PRIVATE_WEBHOOK_ADDRESSES")


@register(Tags.security, deploy=True)
def development_flags_check(app_configs, **kwargs) -> list[CheckMessage]:
    """An error for each development flag set in the environment while DEBUG is off."""
    if settings.DEBUG:
        return []
    return [
        Error(
            f"{name} is set, but it is for development only and has no effect with DEBUG off.",
            hint=f"Remove {name} from the environment and from .env (`make run` writes it there).",
            id="integrations.E001",
        )
        for name in DEVELOPMENT_FLAGS
        if getattr(settings, f"{name}_REQUESTED", False)
    ]
