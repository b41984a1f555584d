"""The import direction (core/layers.py, run by `make check`): the real tree follows it, and a
planted import against it is reported with its file and line."""

import subprocess
import sys
from pathlib import Path

import pytest

from core.layers import main, violations

ROOT = Path(__file__).resolve().parents[2]


def plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if parent != Path("."):
                (root / parent / "__init__.py").touch()
        path.write_text(text)
    return root


def reported(root: Path) -> list[str]:
    return [f"{v.path}:{v.line}" for v in violations(root)]


def test_the_project_follows_the_layers():
    assert violations(ROOT) == []


def test_make_check_runs_it_and_it_passes():
    makefile = (ROOT / "Makefile").read_text()
    check = makefile.split("\ncheck:", 1)[1].split("\n\n", 1)[0]
    assert "-m core.layers" in check
    result = subprocess.run(
        [sys.executable, "-m", "core.layers"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_an_upward_import_fails_with_file_and_line(tmp_path, capsys):
    plant(
        tmp_path,
        {
            "participants/models.py": "class Participant: ...\n",
            "campaigns/models.py": "import os\n\nfrom participants.models import Participant\n",
        },
    )
    assert reported(tmp_path) == ["campaigns/models.py:3"]
    assert main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "campaigns/models.py:3" in out and "participants.models" in out


@pytest.mark.parametrize(
    "source",
    [
        "def later():\n    from participants import services\n",  # inside a function
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import participants.models\n",
        "from config import settings\n",  # config sits on top
        "import demo.services\n",
    ],
)
def test_imports_anywhere_in_a_lower_module_count(tmp_path, source):
    plant(tmp_path, {"integrations/oauth/client.py": source})
    assert len(violations(tmp_path)) == 1


def test_a_relative_import_is_resolved(tmp_path):
    plant(
        tmp_path,
        {
            "integrations/egress/transport.py": "from ..oauth import client\n",
            "integrations/oauth/client.py": "from ..egress import transport\n",
        },
    )
    assert reported(tmp_path) == ["integrations/egress/transport.py:1"]


def test_a_lower_app_naming_a_higher_apps_url_fails(tmp_path):
    plant(
        tmp_path,
        {
            "campaigns/admin.py": (
                "from django.urls import reverse\n"
                "URL = reverse('admin:participants_participation_changelist')\n"
                "PAGE = reverse('participants:landing', args=['x'])\n"
                "OWN = reverse('admin:campaigns_campaign_changelist')\n"
                "TEXT = 'participants: who take part'\n"
            )
        },
    )
    assert reported(tmp_path) == ["campaigns/admin.py:2", "campaigns/admin.py:3"]


@pytest.mark.parametrize(
    ("importer", "source", "allowed"),
    [
        ("integrations/egress/policy.py", "from integrations.models import X\n", False),
        ("integrations/egress/policy.py", "from core.json_input import X\n", True),
        ("integrations/mapping/store.py", "from integrations.oauth.client import X\n", False),
        ("integrations/mapping/store.py", "from integrations.oauth.models import X\n", True),
        ("integrations/mapping/store.py", "from integrations.models import X\n", True),
        ("integrations/mapping/store.py", "from integrations.webhooks import outbox\n", False),
        ("integrations/webhooks/outbox.py", "from integrations.mapping import apply\n", False),
        ("integrations/webhooks/outbox.py", "from integrations.egress import transport\n", True),
        ("integrations/oauth/answer.py", "from integrations.mapping.paths import X\n", True),
        ("integrations/oauth/answer.py", "from integrations.webhooks import outbox\n", False),
        ("integrations/admin.py", "from integrations.webhooks.admin import X\n", True),
        ("accounts/models.py", "from core.process_cache import X\n", True),
        ("core/links.py", "from accounts.models import X\n", False),
        ("demo/services.py", "from participants.models import X\n", True),
    ],
)
def test_the_rules_inside_integrations_and_around_it(tmp_path, importer, source, allowed):
    plant(tmp_path, {importer: source})
    assert (violations(tmp_path) == []) is allowed


def test_tests_and_migrations_are_not_read(tmp_path):
    plant(
        tmp_path,
        {
            "campaigns/migrations/0001_initial.py": "import participants.models\n",
            "campaigns/tests/test_x.py": "import participants.models\n",
        },
    )
    assert violations(tmp_path) == []


def test_importing_another_modules_private_name_fails(tmp_path):
    plant(
        tmp_path,
        {
            "participants/views.py": "def _page(): ...\n",
            "participants/views_embed.py": "from participants.views import _page\n",
            "participants/apps.py": "from __future__ import annotations\n",
        },
    )
    assert reported(tmp_path) == ["participants/views_embed.py:1"]


def test_a_template_of_a_lower_app_naming_a_higher_apps_url_fails(tmp_path):
    plant(
        tmp_path,
        {
            "templates/admin/integrations/x/change_form.html": (
                "{% extends 'admin/change_form.html' %}\n"
                "<a href=\"{% url 'admin:integrations_oauthintegration_changelist' %}\">x</a>\n"
                "<a href=\"{% url 'participants:test_login_start' obj.pk %}\">Test login</a>\n"
            ),
            "templates/participants/landing.html": "{% url 'participants:form' slug %}\n",
            "templates/admin/index.html": "{% url 'admin:participants_loginattempt_changelist' %}",
            "templates/jinja2/campaigns/x.html": "\n<a href=\"{{ url('participants:form', s) }}\">",
            "templates/jinja2/participants/x.html": "{{ url('admin:index') }}",
        },
    )
    assert reported(tmp_path) == [
        "templates/admin/integrations/x/change_form.html:3",
        "templates/jinja2/campaigns/x.html:2",
    ]
