"""Uploaded mapping tables: check the file, then read its rows (CSV or XLSX).

Pure (bytes in, rows out). Every refusal is a `TableError` with a message for staff. The limits
follow SECURITY-CHECKLIST §3.8 (UP-01…UP-10); the size cap itself is enforced while receiving
(admin_mapping.UploadSizeCapHandler) and on the form.
"""

import csv
import io
import re
import unicodedata
import zipfile
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import Any

import openpyxl

from integrations.mapping.tables import MAX_COLUMNS, TableError, TableRow, rows_from_records

ALLOWED_EXTENSIONS = (".csv", ".xlsx")
# Spreadsheet formats we never open: macros (.xlsm, .xlsb) or the legacy binary format (.xls).
REFUSED_EXTENSIONS = (".xlsm", ".xls", ".xlsb", ".xltm", ".xlam")

MAX_ROWS = 100_000
# Zip-bomb limits, checked on the ZIP directory before openpyxl reads anything.
ZIP_MAX_TOTAL_SIZE = 50 * 1024 * 1024
ZIP_MAX_ENTRIES = 200
ZIP_MAX_RATIO = 100
# Entries this small cannot hurt, whatever their ratio (an empty part compresses "infinitely").
ZIP_RATIO_FLOOR = 1024 * 1024

UNREADABLE_XLSX = (
    "The XLSX workbook cannot be read: it is damaged, or holds unsafe XML (entity declarations). "
    "Save it again from Excel or LibreOffice as .xlsx."
)


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
    return rows_from_records(records)


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
    return rows_from_records(records)
