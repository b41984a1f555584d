"""JSON from outside (IdP answers, tokens, pasted profiles, webhook bodies), with a bound on how
deeply it may nest.

The standard library's parser recurses once per level: `"[" * 50000` raises RecursionError
instead of the ValueError every caller handles, and a view answers 500. The depth is counted
before parsing, so that a refused document costs one linear scan and no recursion at all.
"""

import json
import re
from typing import Any

# The deepest real payloads we know (Keycloak's and SAP CDC's profiles, tests/fixtures/
# idp-profiles) nest 5 levels; the bound leaves room for any IdP's extensions.
MAX_DEPTH = 32

# A whole string literal (escapes included, so that brackets and quotes inside it are skipped;
# an unterminated one runs to the end), or one bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


class JSONDepthError(ValueError):
    """The document nests arrays and objects more than `max_depth` levels deep."""

    def __init__(self, max_depth: int) -> None:
        super().__init__(f"The JSON is nested more than {max_depth} levels deep.")
        self.max_depth = max_depth


def _text(document: str | bytes) -> str:
    if isinstance(document, str):
        return document
    # As json.loads does with bytes (UTF-8, -16 or -32); a UnicodeDecodeError is a ValueError.
    return document.decode(json.detect_encoding(document), "surrogatepass")


def json_depth_check(document: str | bytes, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise JSONDepthError when `document` nests deeper than `max_depth`.

    Exact for every valid prefix, which is all the parser reads before it stops: what follows an
    error is never parsed, however it nests.
    """
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(_text(document)):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                raise JSONDepthError(max_depth)
        elif token in ("]", "}"):
            depth -= 1


def json_loads_bounded(document: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads, refusing documents nested deeper than `max_depth` (JSONDepthError).

    Invalid JSON raises json.JSONDecodeError (or UnicodeDecodeError for bytes) as before; both
    JSONDepthError and those are ValueErrors.
    """
    text = _text(document)
    json_depth_check(text, max_depth=max_depth)
    try:
        return json.loads(text)
    except RecursionError:
        # Not expected after the check; only if this was called with the stack already deep.
        raise JSONDepthError(max_depth) from None
