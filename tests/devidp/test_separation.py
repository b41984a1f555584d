"""The development IdP and the product never share settings."""

import subprocess
import sys

from django.conf import settings

from tests.devidp_server import MANAGE_PY, REPO_ROOT


def test_product_settings_load_nothing_of_the_development_idp():
    assert not [
        app
        for app in settings.INSTALLED_APPS
        if app.startswith("devidp") or app.startswith("oauth2_provider")
    ]
    assert not hasattr(settings, "OAUTH2_PROVIDER")


def test_idp_ignores_the_product_settings_module_in_its_environment(devidp):
    env = {**devidp.env, "DJANGO_SETTINGS_MODULE": "config.settings"}

    result = subprocess.run(
        [
            sys.executable,
            str(MANAGE_PY),
            "shell",
            "--no-imports",
            "-c",
            "from django.conf import settings; print(settings.ROOT_URLCONF)",
        ],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.strip() == "devidp.urls"
