"""JSON from outside is parsed with a bound on its nesting depth, never into a RecursionError."""

import json
from pathlib import Path

import pytest

from core.json_input import MAX_DEPTH, JSONDepthError, json_loads_bounded
from tests.core.deep_json import TOO_DEEP, nested_objects

PROFILES = sorted(
    (Path(__file__).resolve().parent.parent / "fixtures" / "idp-profiles").glob("*.json")
)


@pytest.mark.parametrize("document", TOO_DEEP)
def test_a_deep_document_is_refused_with_a_value_error_naming_the_bound(document):
    with pytest.raises(JSONDepthError) as raised:
        json_loads_bounded(document)
    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == f"The JSON is nested more than {MAX_DEPTH} levels deep."


def test_the_bound_itself_parses_and_one_level_more_is_refused():
    assert json_loads_bounded(nested_objects(MAX_DEPTH)) == json.loads(nested_objects(MAX_DEPTH))
    with pytest.raises(JSONDepthError):
        json_loads_bounded(nested_objects(MAX_DEPTH + 1))
    with pytest.raises(JSONDepthError):
        json_loads_bounded("[" * 3 + "]" * 3, max_depth=2)


def test_brackets_and_escaped_quotes_inside_strings_do_not_count():
    document = json.dumps({"a": "[" * 100 + '\\"{{{' + "{" * 100, "b": ['"]]]', "\\"]})
    assert json_loads_bounded(document) == json.loads(document)


def test_invalid_json_still_says_where_it_breaks():
    with pytest.raises(json.JSONDecodeError) as raised:
        json_loads_bounded('{"a": [1, 2,, 3]}')
    assert (raised.value.lineno, raised.value.colno) == (1, 13)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_bytes_are_read_as_json_loads_reads_them(encoding):
    document = json.dumps({"given_name": "Zoë", "roles": [["a"]]}, ensure_ascii=False)
    assert json_loads_bounded(document.encode(encoding)) == json.loads(document)
    with pytest.raises(JSONDepthError):
        json_loads_bounded(nested_objects(MAX_DEPTH + 1).encode(encoding))


@pytest.mark.parametrize("path", PROFILES, ids=lambda path: path.stem)
def test_every_captured_idp_profile_parses(path):
    text = path.read_text(encoding="utf-8")
    assert json_loads_bounded(text) == json.loads(text)
