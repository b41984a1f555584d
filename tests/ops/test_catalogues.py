"""The committed French catalogues are the compiled .po files (a stale .mo shows English).

`compilemessages` skips a .po whose .mo is newer, and a fresh clone gives both the same age: the
.mo in the repository is what a new machine serves. Merges of two branches that both edited a
.po have left it behind once already.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(
    path for path in BASE_DIR.glob("**/locale/*/LC_MESSAGES/django.po") if ".venv" not in path.parts
)


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda path: str(path.relative_to(BASE_DIR)))
def test_the_committed_mo_is_the_compiled_po(po, tmp_path):
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        if os.environ.get("CI"):
            pytest.fail("msgfmt (gettext) is missing in CI")
        pytest.skip("msgfmt (gettext) is not installed")
    compiled = tmp_path / "django.mo"
    subprocess.run([msgfmt, "--check-format", "-o", str(compiled), str(po)], check=True)
    assert compiled.read_bytes() == po.with_suffix(".mo").read_bytes(), (
        f"{po.with_suffix('.mo')} is stale: run `make messages` after touching the .po"
    )
