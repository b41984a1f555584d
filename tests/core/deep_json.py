"""JSON nested far beyond core.json_input's bound, as an IdP or a paste could send it."""

import pytest


def nested_objects(depth: int) -> str:
    """Valid JSON: {"a": {"a": … 1 …}}, `depth` objects deep."""
    return '{"a":' * depth + "1" + "}" * depth


# Either made the standard library's parser raise RecursionError (a 500): 50 000 open brackets
# (not even valid JSON) and valid JSON 10 000 objects deep (60 KB, under every size cap).
TOO_DEEP = [
    pytest.param("[" * 50_000, id="50000-brackets"),
    pytest.param(nested_objects(10_000), id="10000-objects"),
]
