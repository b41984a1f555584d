"""Validators shared by the models of several apps."""

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError


def validate_public_https_url(value: str) -> None:
    """An absolute https:// address that participants' browsers open (a privacy policy): never
    fetched by us, so no address check, but no credentials and no other scheme either."""
    parts = urlsplit(value or "")
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise ValidationError("Enter an https:// address.", code="https_required")
    if parts.username is not None or parts.password is not None:
        raise ValidationError(
            "The address must not hold a user name or password.", code="credentials"
        )
