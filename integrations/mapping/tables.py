"""Mapping tables: the columns, the rows read from a file, and the validation of a whole table.

Pure. Reading files safely is `uploads`; writing the template and exports is `exports`. Row
faults are `RowError`s with the line number, all reported at once; a file refused as a whole is
a `TableError`.
"""

from dataclasses import asdict, dataclass, field
from typing import Any

from integrations.mapping.apply import RuleError, rule_compile
from integrations.variables import STANDARD_VARIABLES, is_valid_variable_name

COLUMNS = ("field", "source", "transform", "fallback", "required", "notes")
# A table may leave the others out: their cells are then empty.
REQUIRED_COLUMNS = ("field", "source", "required")
OPTIONAL_COLUMNS = tuple(c for c in COLUMNS if c not in REQUIRED_COLUMNS)
MAX_COLUMNS = 50
MAX_NOTES_LENGTH = 2000
# A cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")

YES = frozenset({"yes", "y", "true", "1", "oui", "x"})
NO = frozenset({"no", "n", "false", "0", "non", ""})


class TableError(ValueError):
    """The file as a whole cannot be used; nothing is saved."""


@dataclass(frozen=True, slots=True)
class TableRow:
    line: int  # the physical line (CSV) or sheet row (XLSX) where the record starts
    cells: dict[str, str]


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """A validated row, as stored in MappingRule and in MappingTableVersion.rules."""

    target: str
    source: str
    transform: str = ""
    fallback: str = ""
    required: bool = False
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class TableValidation:
    specs: list[RuleSpec] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not self.errors and bool(self.specs)


# ---------------------------------------------------------------------------- header and rows
def _unquote(cell: str) -> str:
    """Drop the `'` our exports put before formula-like text, so a round trip is lossless."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_TRIGGERS:
        return cell[1:]
    return cell


COLUMNS_TEXT = (
    f"The columns are {', '.join(REQUIRED_COLUMNS)}, and {', '.join(OPTIONAL_COLUMNS)} when "
    "you use them, in any order."
)


def _columns_text(one: str, several: str, names: list[str]) -> str:
    return f"{one if len(names) == 1 else several}: {', '.join(names)}"


def rows_from_records(records: list[tuple[int, list[str]]]) -> list[TableRow]:
    records = [(line, cells) for line, cells in records if any(c.strip() for c in cells)]
    if not records:
        raise TableError("The file is empty.")
    header_line, header = records[0]
    names = [cell.strip().lstrip("\ufeff").casefold() for cell in header]
    if len(names) > MAX_COLUMNS:
        raise TableError(f"The table has more than {MAX_COLUMNS} columns.")
    used = [name for name in names if name]
    duplicates = sorted({name for name in used if used.count(name) > 1})
    missing = [name for name in REQUIRED_COLUMNS if name not in used]
    extra = [name for name in used if name not in COLUMNS]
    problems = []
    if duplicates:
        problems.append(_columns_text("duplicate column", "duplicate columns", duplicates))
    if missing:
        problems.append(_columns_text("missing column", "missing columns", missing))
    if extra:
        problems.append(_columns_text("unknown column", "unknown columns", extra))
    if problems:
        raise TableError(f"Line {header_line} (header): {'; '.join(problems)}. {COLUMNS_TEXT}")
    positions = {name: index for index, name in enumerate(names) if name}
    rows = []
    for line, cells in records[1:]:
        unnamed = [c for index, c in enumerate(cells) if (index >= len(names) or not names[index])]
        if any(c.strip() for c in unnamed):
            raise TableError(f"Line {line} has values outside the named columns.")
        values = dict.fromkeys(OPTIONAL_COLUMNS, "")
        values.update(
            (name, _unquote(cells[index]) if index < len(cells) else "")
            for name, index in positions.items()
        )
        rows.append(TableRow(line=line, cells=values))
    if not rows:
        raise TableError("The table has a header but no rules.")
    return rows


# ---------------------------------------------------------------------------- validation
def _looks_like_typo(name: str, known: str) -> bool:
    """One slip away from a standard name (swap, wrong, missing or extra letter): `fristname`,
    `emial`, `phon`. An added digit or underscore (`phone2`, `city_2`) is a deliberate name."""
    if abs(len(name) - len(known)) > 1 or name == known:
        return False
    if len(name) == len(known) + 1:
        for index in range(len(name)):
            if name[:index] + name[index + 1 :] == known:
                return name[index].isalpha()
        return False
    if len(name) + 1 == len(known):
        return any(known[:i] + known[i + 1 :] == name for i in range(len(known)))
    differences = [i for i in range(len(name)) if name[i] != known[i]]
    if len(differences) == 1:
        return True
    if len(differences) == 2:
        first, second = differences
        return second == first + 1 and name[first] == known[second] and name[second] == known[first]
    return False


def _variable_error(target: str, custom_variables: frozenset[str]) -> str | None:
    if target in STANDARD_VARIABLES or target in custom_variables:
        return None
    if not is_valid_variable_name(target):
        return (
            f"unknown variable “{target}”: a custom name uses lowercase letters, digits and _, "
            "starting with a letter"
        )
    for standard in STANDARD_VARIABLES:
        if _looks_like_typo(target, standard):
            return (
                f"unknown variable “{target}”: not a standard variable nor a custom variable of "
                f"this account. Did you mean “{standard}”?"
            )
    return None


def _required_parse(text: str) -> bool | None:
    word = text.strip().casefold()
    if word in YES:
        return True
    if word in NO:
        return False
    return None


def table_validate(
    *, rows: list[TableRow], custom_variables: frozenset[str] = frozenset()
) -> TableValidation:
    """Check every row; collect every fault. `custom_variables` are names the account already
    uses, accepted even when they look like a typo of a standard name."""
    result = TableValidation()
    first_line_of: dict[str, int] = {}
    for row in rows:
        cells = row.cells
        target = cells["field"].strip().lower()
        source = cells["source"].strip()
        transform = cells["transform"].strip("\r\n")
        fallback = cells["fallback"].strip()
        notes = cells["notes"]
        errors: list[RowError] = []

        def fault(column: str, code: str, message: str, errors=errors, line=row.line) -> None:
            errors.append(RowError(line, column, code, message))

        if not target:
            fault("field", "missing_field", "the field column is empty")
        else:
            problem = _variable_error(target, custom_variables)
            if problem:
                fault("field", "unknown_variable", problem)
            elif target in first_line_of:
                fault(
                    "field",
                    "duplicate_target",
                    f"duplicate target “{target}”, already mapped on line {first_line_of[target]}",
                )
            else:
                first_line_of[target] = row.line
        required = _required_parse(cells["required"])
        if required is None:
            fault(
                "required",
                "bad_required",
                f"bad required value “{cells['required'].strip()}”: must be yes or no",
            )
        if len(notes) > MAX_NOTES_LENGTH:
            fault("notes", "too_long", f"notes longer than {MAX_NOTES_LENGTH} characters")
        if not source:
            fault("source", "missing_source", "the source column is empty")
        elif target:
            # Compile with a placeholder name when the field itself is faulty, so that path and
            # transform faults on the same row are reported too.
            name = target if is_valid_variable_name(target) else "placeholder"
            try:
                rule_compile(
                    target=name,
                    source=source,
                    transform=transform,
                    fallback=fallback,
                    required=bool(required),
                )
            except RuleError as error:
                fault(error.column, error.code, str(error))
        if errors:
            result.errors.extend(errors)
        else:
            result.specs.append(
                RuleSpec(target, source, transform, fallback, bool(required), notes)
            )
    return result
