"""ALLOW_HTTP_LOOPBACK_ENDPOINTS and ALLOW_PRIVATE_WEBHOOK_ADDRESSES: development only.

`make run` writes both into `.env`, which a production start on the same machine reads too;
with DEBUG off they must change nothing (`check --deploy` refuses them: test_deploy_check.py).
"""

import pytest

from tests.ops.settings_module import reload_settings

FLAGS = ("ALLOW_HTTP_LOOPBACK_ENDPOINTS", "ALLOW_PRIVATE_WEBHOOK_ADDRESSES")
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "x" * 50,
    "FIELD_ENCRYPTION_KEY": "Kk0uXo0vV0wz0K8q3Ypbq0cX8Yl3b3Xx0zvHc3oQk2M=",
}


@pytest.mark.parametrize("flag", FLAGS)
def test_with_debug_off_a_flag_set_in_the_environment_has_no_effect(flag):
    settings = reload_settings(**PRODUCTION, **{flag: "1"})
    assert getattr(settings, flag) is False
    assert getattr(settings, f"{flag}_REQUESTED") is True  # what check --deploy reports


@pytest.mark.parametrize("flag", FLAGS)
def test_with_debug_on_a_flag_set_in_the_environment_is_in_force(flag):
    settings = reload_settings(**{flag: "1"})  # reload_settings turns debug on
    assert getattr(settings, flag) is True


@pytest.mark.parametrize("flag", FLAGS)
def test_a_flag_set_to_0_is_off_even_in_debug(flag):
    settings = reload_settings(**{flag: "0"})
    assert getattr(settings, flag) is False
    assert getattr(settings, f"{flag}_REQUESTED") is False
