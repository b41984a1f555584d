#!/usr/bin/env python
"""Run the development IdP's management commands: `python devidp/manage.py runserver 9000`."""

import os
import sys
from pathlib import Path


def main():
    # Importable as `devidp` from the repository root, whatever the working directory.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    # Forced, not defaulted: a DJANGO_SETTINGS_MODULE inherited from the product (or from
    # pytest-django) must never run the IdP with the product's settings.
    os.environ["DJANGO_SETTINGS_MODULE"] = "devidp.settings"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
