"""What the models of integrations' subdomains share."""

from django.utils import timezone
from django.utils.formats import date_format


def when(moment) -> str:
    """A moment as the admin writes it everywhere: "6 Dec 2026, 04:40 UTC"."""
    return date_format(timezone.localtime(moment), "DATETIME_FORMAT") if moment else ""
