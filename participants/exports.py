"""The statistics CSV export: streamed, spreadsheet-friendly, safe against formula injection."""

import csv
import re
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse

from campaigns.models import Campaign

from .models import Participation

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


def participations_csv_lines(campaign: Campaign) -> Iterator[str]:
    """The CSV, line by line: a header, then one row per participation, oldest first."""
    variables = list(campaign.fields.values_list("variable", flat=True))
    # Every cell quoted: CRM importers then read each one as text, as it is.
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield "\ufeff"  # BOM: spreadsheet programs then read the file as UTF-8
    yield writer.writerow(
        [
            "submitted_at",
            "participant_subject",
            "language",
            *variables,
            "prefilled",
            "changed",
            "prefilled_fields",
            "changed_fields",
        ]
    )
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
        row = [
            participation.submitted_at.isoformat(),
            subject,
            participation.language,
            *(values.get(variable) for variable in variables),
            bool(prefilled),
            bool(changed),
            prefilled,
            changed,
        ]
        yield writer.writerow([csv_cell(cell) for cell in row])


def participations_csv_response(campaign: Campaign) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        participations_csv_lines(campaign), content_type="text/csv; charset=utf-8"
    )
    # The slug is [-a-zA-Z0-9_] only: safe in the header as it is.
    response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-participations.csv"'
    return response
