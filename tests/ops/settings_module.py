"""Read config/settings.py afresh under a given environment, as a new process would."""

import importlib
from types import SimpleNamespace

import pytest

import config.settings


def reload_settings(**environment):
    """The settings as they come out with `environment` added to the real one.

    Django's live settings are unaffected: they were copied from the module at start-up. The
    module is reloaded once more afterwards, so that it matches the environment again.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_DEBUG", "1")
        for name, value in environment.items():
            patch.setenv(name, value)
        try:
            # A copy of its values: the module object itself is about to be reloaded again.
            return SimpleNamespace(**vars(importlib.reload(config.settings)))
        finally:
            patch.undo()
            importlib.reload(config.settings)
