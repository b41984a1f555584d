"""Transforms: small steps, joined with `|`, that turn a claim into the value a form wants.

A transform cell such as `strip|lower|split:-:0` is parsed once, when the table is uploaded, into
a tuple of `TransformStep`s; unknown names and bad arguments are refused then, never at login.
At login each step is a plain function call. A step that cannot handle a value raises
`TransformFailedError`; the rule then gives no value and reports a problem.

Arguments follow the first `:` and are taken literally (spaces included). Write `\\|` for a
literal `|` inside an argument.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers

from integrations.mapping.countries import country_code

MAX_TRANSFORM_LENGTH = 500


class TransformSpecError(ValueError):
    """A transform cell that cannot be parsed; `code` says which kind of fault."""

    def __init__(self, message: str, *, code: str = "bad_transform_argument") -> None:
        super().__init__(message)
        self.code = code


class TransformFailedError(ValueError):
    """A transform could not handle the value it was given (at login)."""


@dataclass(frozen=True, slots=True)
class TransformStep:
    text: str
    function: Callable[[Any], Any]
    # Templates show `step.text`; without this they would call the step with no value.
    do_not_call_in_templates = True

    def __call__(self, value: Any) -> Any:
        return self.function(value)


def is_empty(value: Any) -> bool:
    """None, "", [] and {} are "no value" (and trigger the fallback and default:)."""
    if value is None:
        return True
    if type(value) in _CONTAINERS:
        return not value
    return False


_CONTAINERS = frozenset({str, list, dict})


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _per_item(function: Callable[[str], str]) -> Callable[[Any], Any]:
    """Apply a string function to a string, or to each string of a list; leave others alone."""

    def step(value: Any) -> Any:
        if isinstance(value, str):
            return function(value)
        if isinstance(value, list):
            return [function(item) if isinstance(item, str) else item for item in value]
        return value

    return step


# ---------------------------------------------------------------------------- builders
def _no_argument(function: Callable[[Any], Any], name: str):
    def build(argument: str | None) -> Callable[[Any], Any]:
        if argument is not None:
            raise TransformSpecError(f"{name} takes no argument (found “{name}:{argument}”)")
        return function

    return build


def _build_date(argument: str | None) -> Callable[[Any], Any]:
    if not argument:
        raise TransformSpecError(
            "date needs the input format, e.g. date:%d/%m/%Y (strftime directives)"
        )
    if "%" not in argument:
        raise TransformSpecError(f"date:{argument} has no % directive, e.g. date:%d/%m/%Y")
    try:
        sample = datetime(2001, 2, 3, 4, 5, 6)
        datetime.strptime(sample.strftime(argument), argument)
    except ValueError as error:
        raise TransformSpecError(f"date:{argument} is not a valid format ({error})") from None
    label = f"date:{argument}"

    def parse_date(value: Any) -> Any:
        if is_empty(value):
            return None
        if not isinstance(value, str):
            raise TransformFailedError(f"{label} needs text, got {_shown(value)}")
        text = value.strip()
        try:
            return datetime.strptime(text, argument).date().isoformat()
        except ValueError:
            if re.match(r"^0{4}\D|\D0{4}$", text):
                raise TransformFailedError(
                    f"{label} cannot parse {_shown(text)} (year 0000 means the year is withheld)"
                ) from None
            raise TransformFailedError(f"{label} cannot parse {_shown(text)}") from None

    return parse_date


def _build_map(argument: str | None) -> Callable[[Any], Any]:
    if not argument:
        raise TransformSpecError("map needs pairs, e.g. map:male=m;female=f")
    pairs: dict[str, str] = {}
    folded: dict[str, str] = {}
    for pair in argument.split(";"):
        if pair == "" and argument.endswith(";"):
            continue  # a trailing ; is harmless
        if "=" not in pair:
            raise TransformSpecError(f"map pair “{pair}” has no “=” (write from=to)")
        source, target = pair.split("=", 1)
        if source in pairs:
            raise TransformSpecError(f"map maps “{source}” twice")
        pairs[source] = target
        folded.setdefault(source.casefold(), target)

    def map_value(value: Any) -> Any:
        if isinstance(value, bool):
            key = "true" if value else "false"
        elif isinstance(value, int | float | str):
            key = str(value)
        else:
            return value
        if key in pairs:
            return pairs[key]
        # Values without a pair pass through unchanged.
        return folded.get(key.casefold(), value)

    return map_value


def _build_split(argument: str | None) -> Callable[[Any], Any]:
    if not argument or ":" not in argument:
        raise TransformSpecError("split needs a separator and an index, e.g. split:-:0")
    separator, index_text = argument.rsplit(":", 1)
    if separator == "":
        raise TransformSpecError("split needs a separator, e.g. split:,:0")
    try:
        index = int(index_text)
    except ValueError:
        raise TransformSpecError(
            f"split index “{index_text}” must be an integer (0 = first, -1 = last)"
        ) from None

    def split_value(value: Any) -> Any:
        if is_empty(value):
            return None
        if not isinstance(value, str):
            raise TransformFailedError(f"split needs text, got {_shown(value)}")
        parts = value.split(separator)
        try:
            return parts[index]
        except IndexError:
            return None

    return split_value


def _build_join(argument: str | None) -> Callable[[Any], Any]:
    if not argument:
        raise TransformSpecError("join needs a separator, e.g. “join:, ”")

    def join_value(value: Any) -> Any:
        if not isinstance(value, list):
            return value
        items = [item for item in value if item is not None and not isinstance(item, dict | list)]
        return argument.join(_scalar_text(item) for item in items) if items else None

    return join_value


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on", "oui", "ja", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "off", "non", "nee", "nein", "f"})


def boolean_parse(*, value: Any) -> bool | None:
    """True/False for JSON booleans, 1/0 and the usual words (any case); None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def _to_bool(value: Any) -> Any:
    if is_empty(value):
        return None
    result = boolean_parse(value=value)
    if result is None:
        raise TransformFailedError(f"bool cannot read {_shown(value)} as yes/no")
    return result


def _to_country(value: Any) -> Any:
    if is_empty(value):
        return None
    if not isinstance(value, str):
        raise TransformFailedError(f"country needs text, got {_shown(value)}")
    code = country_code(value=value)
    if code is None:
        raise TransformFailedError(f"country does not know {_shown(value)}")
    return code


_PHONE_SEPARATORS = str.maketrans("", "", " .-\u00a0")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def _build_phone(argument: str | None) -> Callable[[Any], Any]:
    region = None
    if argument is not None:
        region = argument.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise TransformSpecError(
                f"phone:{argument}: the default region must be a country code such as BE"
            )

    def normalise_phone(value: Any) -> Any:
        if is_empty(value):
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise TransformFailedError(f"phone needs text, got {_shown(value)}")
        # Already international ("+32 470 12 34 56"): only the separators go. Same result as
        # phonenumbers for these, at a fraction of its cost; anything else goes through it.
        compact = value.strip().translate(_PHONE_SEPARATORS)
        if _E164.match(compact):
            return compact
        try:
            number = phonenumbers.parse(value, region)
        except phonenumbers.NumberParseException:
            return value.strip()  # keep as given: the participant can correct it in the form
        if not phonenumbers.is_possible_number(number):
            return value.strip()
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    return normalise_phone


def _build_default(argument: str | None) -> Callable[[Any], Any]:
    if argument is None or argument == "":
        raise TransformSpecError("default needs a value, e.g. default:fr")

    def default_value(value: Any) -> Any:
        return argument if is_empty(value) else value

    return default_value


_BUILDERS: dict[str, Callable[[str | None], Callable[[Any], Any]]] = {
    "strip": _no_argument(_per_item(str.strip), "strip"),
    "lower": _no_argument(_per_item(str.lower), "lower"),
    "upper": _no_argument(_per_item(str.upper), "upper"),
    "title": _no_argument(_per_item(str.title), "title"),
    "date": _build_date,
    "map": _build_map,
    "split": _build_split,
    "join": _build_join,
    "bool": _no_argument(_to_bool, "bool"),
    "country": _no_argument(_to_country, "country"),
    "phone": _build_phone,
    "default": _build_default,
}

# Shown in the template's reference sheet and the README: name, syntax, example.
TRANSFORM_REFERENCE: tuple[tuple[str, str, str], ...] = (
    ("strip", "strip", "“  Zoë ” → “Zoë”"),
    ("lower", "lower", "“Zoe@Example.BE” → “zoe@example.be”"),
    ("upper", "upper", "“loy-17” → “LOY-17”"),
    ("title", "title", "“zoë dupont” → “Zoë Dupont”"),
    ("date", "date:<input format>", "date:%d/%m/%Y: “14/03/1987” → “1987-03-14”"),
    ("map", "map:<from>=<to>;…", "map:male=m;female=f: “male” → “m” (others unchanged)"),
    ("split", "split:<separator>:<index>", "split:-:0: “fr-BE” → “fr”; split:, :-1 → last part"),
    ("join", "join:<separator>", "join:, : [“Liège”, “Namur”] → “Liège, Namur”"),
    ("bool", "bool", "true, “true”, “1”, “yes” → yes; false, “0”, “no” → no"),
    ("country", "country", "“Belgique”, “België”, “BEL”, “be” → “BE”"),
    ("phone", "phone or phone:<region>", "“+32 470 12 34 56” → “+32470123456”; phone:BE"),
    ("default", "default:<value>", "default:fr: no value → “fr”"),
)
TRANSFORM_NAMES = tuple(_BUILDERS)


def _steps_split(text: str) -> list[str]:
    """Split on `|`, honouring `\\|` as a literal pipe."""
    steps, current, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and text[index + 1 : index + 2] == "|":
            current.append("|")
            index += 2
            continue
        if char == "|":
            steps.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    steps.append("".join(current))
    return steps


def transforms_parse(*, text: str) -> tuple[TransformStep, ...]:
    """Parse a transform cell into steps; raises TransformSpecError naming the fault."""
    if text is None or not text.strip():
        return ()
    if len(text) > MAX_TRANSFORM_LENGTH:
        raise TransformSpecError(
            f"the transform is longer than {MAX_TRANSFORM_LENGTH} characters",
            code="malformed_transform",
        )
    raw_steps = _steps_split(text)
    steps = []
    for number, raw in enumerate(raw_steps, start=1):
        if not raw.strip():
            where = "after the last" if number == len(raw_steps) else f"at step {number} of"
            raise TransformSpecError(
                f"malformed transform chain “{text.strip()}”: empty step {where} “|”",
                code="malformed_transform",
            )
        name, colon, argument = raw.partition(":")
        name = name.strip().lower()
        builder = _BUILDERS.get(name)
        if builder is None:
            raise TransformSpecError(
                f"unknown transform “{name}” (known: {', '.join(TRANSFORM_NAMES)})",
                code="unknown_transform",
            )
        argument_value = argument if colon else None
        if argument_value is not None and not argument_value.strip() and name != "join":
            argument_value = ""
        if colon and name in {"strip", "lower", "upper", "title", "bool", "country"}:
            argument_value = argument_value.strip() or None  # “lower:” is just lower
        function = builder(argument_value)
        steps.append(TransformStep(text=raw.strip(), function=function))
    return tuple(steps)


def transforms_run(*, steps: tuple[TransformStep, ...], value: Any) -> Any:
    """Run the steps left to right; raises TransformFailedError."""
    for step in steps:
        value = step(value)
    return value
