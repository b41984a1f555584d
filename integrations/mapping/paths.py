"""Source paths: where a value sits in an IdP profile.

Syntax (parsed once, at upload, into a `ProfilePath`):

    given_name                          a claim of the merged profile
    address.postal_code                 a nested key
    emails[0].value                     a list index (non-negative integer)
    userinfo.phone_number               a claim of one part of the profile: id_token.,
                                        access_token., userinfo. or token. (the token response)
    ["https://example.com/claims/x"]    a quoted segment, for claim names with dots or URLs
    id_token["https://example.com/address"].postal_code
    cognito:username, not-before-policy colons and hyphens are ordinary key characters

Inside quotes, a backslash escapes the quote or another backslash; single quotes work too.
"""

from dataclasses import dataclass
from typing import Any

SOURCES = ("id_token", "access_token", "userinfo", "token")
# The order in which an unprefixed path looks: profile endpoint over id_token over access token.
MERGED_ORDER = ("userinfo", "id_token", "access_token")
# Token strings are never mapped into a form, whatever the table says.
SECRET_TOKEN_FIELDS = frozenset({"access_token", "id_token", "refresh_token"})
MAX_PATH_LENGTH = 500
MAX_SEGMENTS = 32

_FORBIDDEN_IN_NAMES = frozenset(".[]\"'")


class PathError(ValueError):
    """A source path that cannot be parsed; the message says why, for the person uploading."""


@dataclass(frozen=True, slots=True)
class ProfilePath:
    """A parsed path: an optional profile part and the keys/indexes to follow."""

    text: str
    source: str | None  # one of SOURCES, or None for the merged profile
    segments: tuple[str | int, ...]

    def __str__(self) -> str:
        return self.text


def path_parse(*, text: str) -> ProfilePath:
    """Parse `text` into a ProfilePath; raises PathError with a reason."""
    if text is None or not text.strip():
        raise PathError("the path is empty")
    if len(text) > MAX_PATH_LENGTH:
        raise PathError(f"the path is longer than {MAX_PATH_LENGTH} characters")
    raw = text.strip()
    source = None
    position = 0
    for candidate in SOURCES:
        if raw.startswith(candidate) and raw[len(candidate) : len(candidate) + 1] in (".", "["):
            source = candidate
            position = len(candidate)
            if raw[position] == ".":
                position += 1
                if position == len(raw):
                    raise PathError(f"nothing after “{candidate}.”")
            break
    segments = _segments_parse(raw, position)
    if source == "token" and segments and segments[0] in SECRET_TOKEN_FIELDS:
        raise PathError(f"token.{segments[0]} is a token itself and is never mapped")
    return ProfilePath(text=raw, source=source, segments=tuple(segments))


def _segments_parse(raw: str, position: int) -> list[str | int]:
    segments: list[str | int] = []
    length = len(raw)
    expect_name = True  # at the start, or right after a dot
    while position < length:
        char = raw[position]
        if char == "[":
            if expect_name and segments:
                raise PathError(f'“.[” at character {position}: write a[0] or a["b"], no dot')
            position, segment = _bracket_parse(raw, position)
            segments.append(segment)
            expect_name = False
        elif char == ".":
            if expect_name:
                raise PathError(_empty_segment_reason(position))
            position += 1
            if position == length:
                raise PathError("the path ends with a dot")
            expect_name = True
        else:
            if not expect_name:
                raise PathError(f"expected “.” or “[” at character {position + 1}")
            start = position
            while position < length and raw[position] not in ".[":
                if raw[position] in _FORBIDDEN_IN_NAMES or raw[position].isspace():
                    raise PathError(
                        f"character {raw[position]!r} at position {position + 1} is not allowed "
                        'in a plain name; quote the name: ["…"]'
                    )
                position += 1
            segments.append(raw[start:position])
            expect_name = False
        if len(segments) > MAX_SEGMENTS:
            raise PathError(f"more than {MAX_SEGMENTS} segments")
    if not segments:
        raise PathError("the path is empty")
    return segments


def _empty_segment_reason(position: int) -> str:
    if position == 0:
        return "the path starts with a dot"
    return f"empty segment between the dots at character {position + 1}"


def _bracket_parse(raw: str, position: int) -> tuple[int, str | int]:
    """Parse `[0]` or `["name"]` starting at raw[position] == "["; return (next position, seg)."""
    position += 1
    if position < len(raw) and raw[position] in "\"'":
        quote = raw[position]
        position += 1
        chars: list[str] = []
        while position < len(raw):
            char = raw[position]
            if char == "\\" and position + 1 < len(raw):
                chars.append(raw[position + 1])
                position += 2
                continue
            if char == quote:
                break
            chars.append(char)
            position += 1
        else:
            raise PathError("quoted segment never closed")
        position += 1  # the closing quote
        if position >= len(raw) or raw[position] != "]":
            raise PathError("quoted segment never closed: expected “]” after the closing quote")
        if not chars:
            raise PathError("empty quoted segment")
        return position + 1, "".join(chars)
    end = raw.find("]", position)
    if end == -1:
        raise PathError("“[” never closed")
    index = raw[position:end].strip()
    if not index.isdigit() or not index.isascii():
        raise PathError(
            f'index [{raw[position:end]}] must be a non-negative integer (quote names: ["name"])'
        )
    return end + 1, int(index)


def path_lookup(*, path: ProfilePath, parts: dict[str, dict]) -> Any:
    """The value at `path` in the profile parts, or None when any step is missing."""
    segments = path.segments
    if path.source is None:
        first = segments[0]
        value = None
        for source in MERGED_ORDER:
            part = parts.get(source)
            if part:
                value = part.get(first)
                if value is not None:
                    break
    else:
        part = parts.get(path.source) or {}
        first = segments[0]
        if path.source == "token" and first in SECRET_TOKEN_FIELDS:
            return None
        value = part.get(first) if isinstance(first, str) else None
    for segment in segments[1:]:
        if value is None:
            return None
        if isinstance(segment, int):
            if isinstance(value, list) and segment < len(value):
                value = value[segment]
            else:
                return None
        elif isinstance(value, dict):
            value = value.get(segment)
        else:
            return None
    return value
