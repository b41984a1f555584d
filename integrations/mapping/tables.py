"""Mapping tables: read an uploaded CSV/XLSX safely, validate it whole, write template/exports.

Pure (bytes in, rows or errors out). Every refusal is a `TableError` with a message for staff;
row faults are `RowError`s with the line number, all reported at once. The limits below follow
SECURITY-CHECKLIST §3.8 (UP-01…UP-10).
"""

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from integrations.variables import CUSTOM_MAX_LENGTH, STANDARD_VARIABLES, is_valid_variable_name

from .apply import RuleError, rule_compile
from .transforms import TRANSFORM_REFERENCE

COLUMNS = ("field", "source", "transform", "fallback", "required", "notes")
ALLOWED_EXTENSIONS = (".csv", ".xlsx")
# Spreadsheet formats we never open: macros (.xlsm, .xlsb) or the legacy binary format (.xls).
REFUSED_EXTENSIONS = (".xlsm", ".xls", ".xlsb", ".xltm", ".xlam")

MAX_ROWS = 100_000
MAX_COLUMNS = 50
MAX_NOTES_LENGTH = 2000
# Zip-bomb limits, checked on the ZIP directory before openpyxl reads anything.
ZIP_MAX_TOTAL_SIZE = 50 * 1024 * 1024
ZIP_MAX_ENTRIES = 200
ZIP_MAX_RATIO = 100
# Entries this small cannot hurt, whatever their ratio (an empty part compresses "infinitely").
ZIP_RATIO_FLOOR = 1024 * 1024

# Export: a cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")

YES = frozenset({"yes", "y", "true", "1", "oui", "x"})
NO = frozenset({"no", "n", "false", "0", "non", ""})


UNREADABLE_XLSX = (
    "The XLSX workbook cannot be read: it is damaged, or holds unsafe XML (entity declarations). "
    "Save it again from Excel or LibreOffice as .xlsx."
)


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


# ---------------------------------------------------------------------------- file names
def filename_display(*, name: str) -> str:
    """A harmless display name: the base name, no control or bidi characters, 100 chars max.
    Uploaded files are never written to disk under any name; this is only shown in history."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    cleaned = "".join(
        char for char in unicodedata.normalize("NFC", base) if unicodedata.category(char)[0] != "C"
    ).strip(" .")
    if len(cleaned) > 100:
        stem, dot, extension = cleaned.rpartition(".")
        cleaned = (stem[: 99 - len(extension)] + dot + extension) if dot else cleaned[:100]
    return cleaned or "mapping"


def extension_check(*, filename: str) -> str:
    """The lower-case extension if allowed; raises TableError otherwise."""
    suffix = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    if suffix in REFUSED_EXTENSIONS:
        raise TableError(
            f"{suffix} files are not accepted (macros or the old binary Excel format). "
            "Save the table as .xlsx (Excel Workbook) or .csv (CSV UTF-8) and upload it again."
        )
    if suffix not in ALLOWED_EXTENSIONS:
        raise TableError("Upload a .csv or .xlsx file.")
    return suffix


def table_read(*, filename: str, data: bytes) -> list[TableRow]:
    """The table's rows, read according to the extension and checked against the content."""
    suffix = extension_check(filename=filename)
    if not data:
        raise TableError("The file is empty.")
    if suffix == ".xlsx":
        return xlsx_read(data=data)
    return csv_read(data=data)


# ---------------------------------------------------------------------------- CSV
def csv_decode(*, data: bytes) -> str:
    """Text from CSV bytes: UTF-8 (with or without BOM), or UTF-16/32 with a BOM. Anything else
    is refused rather than guessed, because a wrong guess silently garbles names."""
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        encoding = "utf-32"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
        if data.startswith(b"PK\x03\x04"):
            raise TableError(
                "This is a ZIP file (an XLSX workbook?), not a CSV. Upload workbooks with the "
                ".xlsx extension."
            )
        if b"\x00" in data:
            if data[1:200:2].count(0) > 50 or data[0:200:2].count(0) > 50:
                raise TableError(
                    "The file looks like UTF-16 without a byte-order mark. Save it as "
                    "“CSV UTF-8” and upload it again."
                )
            raise TableError("The file contains NUL bytes: it is not a text (CSV) file.")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        if encoding == "utf-8":
            raise TableError(
                "The file is not UTF-8 text (it may be a Windows-1252 “CSV” export, or not a "
                "CSV at all). In Excel choose “CSV UTF-8 (Comma delimited)” and upload it again."
            ) from None
        raise TableError(f"The file is not valid {encoding.upper()} text.") from None
    if "\x00" in text:
        raise TableError("The file contains NUL characters: it is not a text (CSV) file.")
    return text


def csv_delimiter(*, header_line: str) -> str:
    """`,`, `;` or tab: whichever the header line uses most; comma on a tie or none."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in (",", ";", "\t")}
    best = max(counts, key=lambda delimiter: (counts[delimiter], delimiter == ","))
    return best if counts[best] else ","


def csv_read(*, data: bytes) -> list[TableRow]:
    text = csv_decode(data=data)
    if not text.strip():
        raise TableError("The file is empty.")
    first_line = text.lstrip("\r\n").splitlines()[0]
    # Excel may write a "sep=;" line before the header: it names the delimiter.
    excel_hint = re.fullmatch(r"sep=([,;\t])", first_line.strip(" "))
    delimiter = excel_hint.group(1) if excel_hint else csv_delimiter(header_line=first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    previous_end = 0
    try:
        for cells in reader:
            if excel_hint and not records and cells and cells[0].startswith("sep="):
                previous_end = reader.line_num
                excel_hint = None
                continue
            records.append((previous_end + 1, cells))
            previous_end = reader.line_num
            if len(records) > MAX_ROWS + 1:
                raise TableError(f"The table has more than {MAX_ROWS:,} rows.")
    except csv.Error as error:
        raise TableError(f"Line {previous_end + 1} cannot be read as CSV: {error}.") from None
    return _rows_from_records(records)


# ---------------------------------------------------------------------------- XLSX
def xlsx_check(*, data: bytes) -> None:
    """Refuse what is not a plain XLSX, or would expand too much, before openpyxl opens it."""
    if not data.startswith(b"PK\x03\x04"):
        raise TableError("The file is not an XLSX workbook (not a ZIP archive).")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        raise TableError("The file is not an XLSX workbook (damaged ZIP archive).") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > ZIP_MAX_ENTRIES:
            raise TableError(f"The workbook has too many parts ({len(entries)}).")
        total = sum(entry.file_size for entry in entries)
        if total > ZIP_MAX_TOTAL_SIZE:
            raise TableError(
                f"The workbook expands to {total // (1024 * 1024)} MB; the limit is "
                f"{ZIP_MAX_TOTAL_SIZE // (1024 * 1024)} MB."
            )
        for entry in entries:
            if entry.file_size > ZIP_RATIO_FLOOR and (
                entry.file_size > ZIP_MAX_RATIO * max(entry.compress_size, 1)
            ):
                raise TableError("The workbook is compressed suspiciously well (zip bomb?).")
        names = {entry.filename for entry in entries}
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise TableError("The file is not an XLSX workbook (its parts are missing).")
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise TableError("The workbook contains macros; save it as a plain .xlsx workbook.")


def _xlsx_cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def xlsx_read(*, data: bytes) -> list[TableRow]:
    xlsx_check(data=data)
    try:
        # read_only streams rows; data_only gives cached values, so formulas are never evaluated
        # and a formula's text never reaches a rule. openpyxl parses XML through defusedxml.
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl and defusedxml raise many types on damaged or hostile input
        raise TableError(UNREADABLE_XLSX) from None
    try:
        if not workbook.worksheets:
            raise TableError("The workbook has no sheet.")
        sheet = workbook.worksheets[0]
        # The dimension tag is the file's own claim (it can say A1:XFD1048576): ignore it.
        sheet.reset_dimensions()
        records: list[tuple[int, list[str]]] = []
        for number, row in enumerate(
            sheet.iter_rows(max_col=MAX_COLUMNS + 1, values_only=True), start=1
        ):
            if number > MAX_ROWS + 1:
                raise TableError(f"The table has more than {MAX_ROWS:,} rows.")
            cells = [_xlsx_cell_text(value) for value in row]
            if len(cells) > MAX_COLUMNS and any(cells[MAX_COLUMNS:]):
                raise TableError(f"The table has more than {MAX_COLUMNS} columns.")
            records.append((number, cells[:MAX_COLUMNS]))
    except TableError:
        raise
    except Exception:  # a damaged sheet surfaces only while iterating
        raise TableError(UNREADABLE_XLSX) from None
    finally:
        workbook.close()
    return _rows_from_records(records)


# ---------------------------------------------------------------------------- header and rows
def _unquote(cell: str) -> str:
    """Drop the `'` our exports put before formula-like text, so a round trip is lossless."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_TRIGGERS:
        return cell[1:]
    return cell


def _rows_from_records(records: list[tuple[int, list[str]]]) -> list[TableRow]:
    records = [(line, cells) for line, cells in records if any(c.strip() for c in cells)]
    if not records:
        raise TableError("The file is empty.")
    header_line, header = records[0]
    names = [cell.strip().lstrip("\ufeff").casefold() for cell in header]
    if len(names) > MAX_COLUMNS:
        raise TableError(f"The table has more than {MAX_COLUMNS} columns.")
    used = [name for name in names if name]
    duplicates = sorted({name for name in used if used.count(name) > 1})
    missing = [name for name in COLUMNS if name not in used]
    extra = [name for name in used if name not in COLUMNS]
    problems = []
    if duplicates:
        problems.append(f"duplicate column(s): {', '.join(duplicates)}")
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if extra:
        problems.append(f"unknown column(s): {', '.join(extra)}")
    if problems:
        raise TableError(
            f"Line {header_line} (header): {'; '.join(problems)}. "
            f"The columns are {', '.join(COLUMNS)}, in any order."
        )
    positions = {name: index for index, name in enumerate(names) if name}
    rows = []
    for line, cells in records[1:]:
        unnamed = [c for index, c in enumerate(cells) if (index >= len(names) or not names[index])]
        if any(c.strip() for c in unnamed):
            raise TableError(f"Line {line} has values outside the named columns.")
        values = {
            name: _unquote(cells[index]) if index < len(cells) else ""
            for name, index in positions.items()
        }
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


# ---------------------------------------------------------------------------- writing
def cell_neutralise(*, value: Any) -> Any:
    """A value safe to put in a spreadsheet cell: formula-like text gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


# A working starter mapping for a standard OpenID Connect provider, used when the integration
# has no rules yet; it validates as is.
STARTER_SPECS = (
    RuleSpec("firstname", "given_name", "strip", "", True, "OIDC profile scope"),
    RuleSpec("lastname", "family_name", "strip", "", True, "OIDC profile scope"),
    RuleSpec("email", "email", "strip|lower", "", True, "OIDC email scope"),
    RuleSpec("birthdate", "birthdate", "", "", False, "ISO date; else add date:<format>"),
    RuleSpec("phone", "phone_number", "phone", "", False, "OIDC phone scope"),
    RuleSpec("street", "address.street_address", "strip", "", False, "OIDC address scope"),
    RuleSpec("zipcode", "address.postal_code", "strip", "", False, "Kept as text"),
    RuleSpec("city", "address.locality", "strip", "", False, ""),
    RuleSpec("country", "address.country", "country", "", False, "Names or codes → ISO alpha-2"),
    RuleSpec("language", "locale", "lower|split:-:0", "", False, "fr-BE → fr"),
)


def _spec_cells(spec: RuleSpec) -> list[str]:
    return [
        spec.target,
        spec.source,
        spec.transform,
        spec.fallback,
        "yes" if spec.required else "no",
        spec.notes,
    ]


def table_csv(*, specs: list[RuleSpec] | tuple[RuleSpec, ...]) -> bytes:
    """The table as CSV (UTF-8 with BOM, so that Excel opens accents correctly)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for spec in specs:
        writer.writerow([cell_neutralise(value=cell) for cell in _spec_cells(spec)])
    return buffer.getvalue().encode("utf-8-sig")


def _string_cell(sheet, row: int, column: int, value: str) -> None:
    cell = sheet.cell(row=row, column=column)
    # Control characters are illegal in XLSX XML; drop them rather than fail the download.
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", cell_neutralise(value=value))
    # openpyxl turns any string starting with "=" into a formula; force a plain string.
    cell.data_type = "s"


def table_xlsx(*, specs: list[RuleSpec] | tuple[RuleSpec, ...]) -> bytes:
    """The table as XLSX: the rules on the first sheet, a reference sheet on the second."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Mapping"
    for column, name in enumerate(COLUMNS, start=1):
        _string_cell(sheet, 1, column, name)
    for row, spec in enumerate(specs, start=2):
        for column, value in enumerate(_spec_cells(spec), start=1):
            _string_cell(sheet, row, column, value)
    for letter, width in zip("ABCDEF", (18, 40, 30, 30, 10, 50), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"

    reference = workbook.create_sheet("Reference")
    lines: list[tuple[str, ...]] = [
        ("Standard variables",),
        ("field", "type", "max length", "label (English)", "label (French)", "choices"),
    ]
    for variable in STANDARD_VARIABLES.values():
        lines.append(
            (
                variable.name,
                str(variable.type),
                str(variable.max_length),
                variable.label_en,
                variable.label_fr,
                ", ".join(variable.choices),
            )
        )
    lines += [
        (
            "custom names",
            "text",
            str(CUSTOM_MAX_LENGTH),
            "lowercase letters, digits and _, starting with a letter",
        ),
        (),
        ("Transforms (combine with |, applied left to right)",),
        ("name", "syntax", "example"),
        *TRANSFORM_REFERENCE,
        (),
        ("Source paths",),
        ("given_name", "a claim of the merged profile (userinfo over id_token over access token)"),
        ("address.postal_code", "a nested key"),
        ("emails[0]", "the first item of a list"),
        ("userinfo.phone_number", "one part only: id_token. access_token. userinfo. token."),
        ('["https://example.com/loyalty"]', "a claim name with dots or a URL, quoted"),
        ("required", "yes or no: the login stops with a message when a required value is missing"),
    ]
    for row, values in enumerate(lines, start=1):
        for column, value in enumerate(values, start=1):
            _string_cell(reference, row, column, value)
    for letter, width in zip("ABCDEF", (34, 60, 55, 30, 30, 12), strict=True):
        reference.column_dimensions[letter].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
