"""The statistics CSV export: streamed, spreadsheet-friendly, safe against formula injection."""

import csv
from collections.abc import Iterator
from typing import Any

from django.http import StreamingHttpResponse

from campaigns.models import Campaign

from .models import Participation

# Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\0")
CHUNK_SIZE = 2000


def csv_cell(value: Any) -> str:
    """A value as a CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, list | dict):
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class _Echo:
    """A file-like object whose write() hands the line back to the generator."""

    def write(self, value: str) -> str:
        return value


def participations_csv_lines(campaign: Campaign) -> Iterator[str]:
    """The CSV, line by line: a header, then one row per participation, oldest first."""
    variables = list(campaign.fields.values_list("variable", flat=True))
    writer = csv.writer(_Echo())
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
