"""The production settings, with plain http to the login benchmark's IdP on loopback.

ALLOW_HTTP_LOOPBACK_ENDPOINTS in the environment has no effect with DEBUG off
(config/settings.py); the benchmark measures production settings against a local IdP stub
that speaks plain http (bench/login_bench.py), so it allows that here.
"""

from config.settings import *  # noqa: F403

ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
