"""The production settings, with plain http to the fault suite's loopback IdPs and webhook
receiver (bench/fault_suite.py).

Both flags have no effect from the environment with DEBUG off (config/settings.py); the suite
runs production settings against servers on 127.0.0.1, so it allows them here.
"""

from config.settings import *  # noqa: F403

ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
ALLOW_PRIVATE_WEBHOOK_ADDRESSES = True
