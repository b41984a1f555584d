"""The statistics exports, CSV and XLSX: the same columns, safe against formula injection.

The CSV is streamed row by row; formula-like cells get a leading `'`. The XLSX holds every value
as it is, in cells typed as text, which a spreadsheet never runs.
"""

import csv
import re
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import openpyxl
from django.http import FileResponse, StreamingHttpResponse
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell

from campaigns.models import Campaign
from participants.models import Participation

# Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV injection"), also
# after leading white space, which they drop before looking.
FORMULA_PREFIXES = ("=", "+", "-", "@")
# A cell starting with one of these is neutralised whatever follows (OWASP: tab and carriage
# return; ASVS 1.2.10: NUL).
HIDING_PREFIXES = ("\t", "\r", "\0")
# Starting with a trigger, yet no formula: a plain number (-12, -0.5, +1e3, -1,5 as spreadsheets
# in Europe write it), which covers E.164 phone numbers (+32470123456) that CRM imports need as
# they are. "+32 470 12 34 56" is no number: a spreadsheet runs it (and shows an error).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)(?:[eE][+-]?\d+)?")
CHUNK_SIZE = 2000


def _cell_text(value: Any) -> str:
    """A participation's value as the text of a spreadsheet cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def csv_cell(value: Any) -> str:
    """A value as a CSV cell that a spreadsheet shows as text, never runs as a formula.

    Only the start of the cell matters: a spreadsheet looks for a formula there only, and a line
    break inside a quoted cell starts no new cell, so "ok\\n=1+1" is text as it is.
    """
    text = _cell_text(value)
    if text.startswith(HIDING_PREFIXES):
        return "'" + text
    stripped = text.lstrip()
    if not stripped.startswith(FORMULA_PREFIXES):
        return text
    return text if _NUMBER.fullmatch(stripped) else "'" + text


class _Echo:
    """A file-like object whose write() hands the line back to the generator."""

    def write(self, value: str) -> str:
        return value


def _participation_rows(campaign: Campaign) -> Iterator[list[Any]]:
    """A header, then one row per participation, oldest first, as Python values."""
    variables = list(campaign.fields.values_list("variable", flat=True))
    yield [
        "submitted_at",
        "participant_subject",
        "language",
        *variables,
        "prefilled",
        "changed",
        "prefilled_fields",
        "changed_fields",
    ]
    participations = (
        Participation.objects.filter(campaign=campaign)
        .select_related("participant")
        .order_by("submitted_at", "id")
        # .iterator(): rows stream from the database in chunks, never all in memory.
        .iterator(chunk_size=CHUNK_SIZE)
    )
    for participation in participations:
        subject = participation.participant.subject if participation.participant else ""
        values = participation.values if isinstance(participation.values, dict) else {}
        prefilled = sorted(participation.prefilled) if participation.prefilled else []
        changed = list(participation.changed or [])
        yield [
            # ISO 8601 with its UTC offset, in both exports: a typed spreadsheet date holds no
            # time zone, so it would silently shift the time to some zone.
            participation.submitted_at.isoformat(),
            subject,
            participation.language,
            *(values.get(variable) for variable in variables),
            bool(prefilled),
            bool(changed),
            prefilled,
            changed,
        ]


def participations_csv_lines(campaign: Campaign) -> Iterator[str]:
    """The CSV, line by line: a header, then one row per participation, oldest first."""
    # Every cell quoted: CRM importers then read each one as text, as it is.
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    rows = _participation_rows(campaign)
    yield "\ufeff"  # BOM: spreadsheet programs then read the file as UTF-8
    yield writer.writerow(next(rows))  # the header: our own names, nothing to neutralise
    for row in rows:
        yield writer.writerow([csv_cell(cell) for cell in row])


def participations_csv_response(campaign: Campaign) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        participations_csv_lines(campaign), content_type="text/csv; charset=utf-8"
    )
    # The slug is [-a-zA-Z0-9_] only: safe in the header as it is.
    response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-participations.csv"'
    return response


XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx_text_cell(sheet, value: Any) -> Cell | None:
    # Control characters are illegal in XLSX XML: dropped rather than failing the export.
    text = ILLEGAL_CHARACTERS_RE.sub("", _cell_text(value))
    if not text:
        return None  # no cell at all
    cell = WriteOnlyCell(sheet, text)
    # openpyxl writes a str starting with "=" as a formula, "#N/A" as an error: always text.
    cell.data_type = "s"
    return cell


def participations_xlsx_file(campaign: Campaign) -> IO[bytes]:
    """The XLSX in a temporary file, at its start: the CSV's columns, every cell text."""
    # Write-only: openpyxl writes each row out as it comes instead of keeping the sheet.
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Participations")
    for row in _participation_rows(campaign):
        sheet.append([_xlsx_text_cell(sheet, value) for value in row])
    file = tempfile.TemporaryFile()  # noqa: SIM115 - the response reads it, then closes it
    try:
        workbook.save(file)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file


def participations_xlsx_response(campaign: Campaign) -> FileResponse:
    return FileResponse(
        participations_xlsx_file(campaign),
        as_attachment=True,
        filename=f"{campaign.slug}-participations.xlsx",
        content_type=XLSX_CONTENT_TYPE,
    )
