"""Coerce a mapped value to its variable's type and length (integrations/variables.py).

A value that does not fit raises `CoercionError` and is dropped by the caller, with a problem:
a wrong value must never reach the form, and never stop the login with an exception.
"""

import re
from datetime import date, datetime
from typing import Any

from integrations.mapping.countries import country_code
from integrations.mapping.transforms import boolean_parse, is_empty
from integrations.variables import Variable, VariableType

_PHONE_CHARACTERS = re.compile(r"^\+?[0-9 ()./\-]{3,}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


class CoercionError(ValueError):
    """The value cannot become a value of the variable's type."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, list):
        raise CoercionError(
            f"is a list ({_shown(value)}): pick one item with [0] or use join:<separator>"
        )
    if isinstance(value, dict):
        raise CoercionError("is an object: point the path at one of its keys")
    raise CoercionError(f"cannot be used as text ({_shown(value)})")


def _fits(text: str, variable: Variable) -> str:
    if len(text) > variable.max_length:
        raise CoercionError(f"{_shown(text)} is longer than {variable.max_length} characters")
    return text


def _email(text: str, variable: Variable) -> str:
    # A cheap shape check: the campaign form validates the address fully when submitted.
    if not _EMAIL.match(text):
        raise CoercionError(f"{_shown(text)} is not an e-mail address")
    return _fits(text, variable)


def _phone(text: str, variable: Variable) -> str:
    if not _PHONE_CHARACTERS.match(text):
        raise CoercionError(f"{_shown(text)} is not a phone number")
    return _fits(text, variable)


def _country(text: str, variable: Variable) -> str:
    code = country_code(value=text)
    if code is None:
        raise CoercionError(f"{_shown(text)} is not a known country")
    return code


def _language(text: str, variable: Variable) -> str:
    language = text.replace("_", "-").partition("-")[0].lower()
    if not _LANGUAGE.match(language):
        raise CoercionError(f"{_shown(text)} is not a language code")
    return _fits(language, variable)


def _capped_text(text: str, variable: Variable) -> str:
    return text[: variable.max_length]  # text is capped, never dropped


def value_coerce(*, value: Any, variable: Variable) -> Any:
    """The value as `variable` stores it, or None when empty; raises CoercionError."""
    if is_empty(value):
        return None
    if variable.type == VariableType.BOOLEAN:
        result = boolean_parse(value=value)
        if result is None:
            raise CoercionError(f"{_shown(value)} is not yes/no")
        return result
    text = value.strip() if type(value) is str else _text(value)
    if not text:
        return None
    return _COERCERS.get(variable.type, _capped_text)(text, variable)


def _date(text: str, variable: Variable) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        raise CoercionError(
            f"{_shown(text)} is not an ISO date (YYYY-MM-DD); add a date:<format> transform"
        ) from None


def _choice(text: str, variable: Variable) -> str:
    # Case-insensitive: the campaign form's options decide the final spelling.
    if variable.choices and text.casefold() not in {c.casefold() for c in variable.choices}:
        raise CoercionError(
            f"{_shown(text)} is not one of {', '.join(variable.choices)}; "
            "add a map:<from>=<to> transform"
        )
    return _fits(text, variable)


_COERCERS = {
    VariableType.TEXT: _capped_text,
    VariableType.EMAIL: _email,
    VariableType.DATE: _date,
    VariableType.PHONE: _phone,
    VariableType.CHOICE: _choice,
    VariableType.COUNTRY: _country,
    VariableType.LANGUAGE: _language,
}
