"""EMAIL_URL: where the administrators' e-mails go (sign-in alerts, a disabled webhook)."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.ops.settings_module import reload_settings


def test_a_mail_server_url_sets_host_port_login_and_tls():
    settings = reload_settings(EMAIL_URL="smtp+tls://alerts:s3cret@smtp.example.com:587")
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    assert (settings.EMAIL_HOST, settings.EMAIL_PORT) == ("smtp.example.com", 587)
    assert (settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD) == ("alerts", "s3cret")
    assert settings.EMAIL_USE_TLS is True


@pytest.mark.parametrize("value", [None, ""])
def test_without_one_debug_writes_e_mails_to_the_console(value):
    environment = {} if value is None else {"EMAIL_URL": value}
    settings = reload_settings(**environment)  # reload_settings turns debug on
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend"


@pytest.mark.parametrize("value", ["nonsense", "ftp://smtp.example.com", "http://x:pw@host"])
def test_a_url_it_cannot_read_stops_start_up_naming_the_variable(value):
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL") as raised:
        reload_settings(EMAIL_URL=value)
    assert "smtp+tls://" in str(raised.value)  # what to write instead
    assert "pw" not in str(raised.value)


def test_without_one_production_hands_e_mails_to_the_local_mail_server():
    settings = reload_settings(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="x" * 50,
        FIELD_ENCRYPTION_KEY="Kk0uXo0vV0wz0K8q3Ypbq0cX8Yl3b3Xx0zvHc3oQk2M=",
    )
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    assert (settings.EMAIL_HOST, settings.EMAIL_PORT) == ("localhost", 25)
