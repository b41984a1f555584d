"""The production settings with the floor benchmark's URLs (bench/floor_bench.py)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
