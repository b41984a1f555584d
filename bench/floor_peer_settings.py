"""The production settings with the peer bench's floor client (bench/floor_peer_urls.py)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_peer_urls"
