"""Writing mapping tables: the template download and exports, as CSV or XLSX.

Every cell that a spreadsheet would run as a formula gets a leading `'` (OWASP CSV injection,
ASVS 1.2.10), and XLSX cells are always written as strings, never as formulas.
"""

import csv
import io
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from integrations.mapping.tables import COLUMNS, FORMULA_TRIGGERS, RuleSpec
from integrations.mapping.transforms import TRANSFORM_REFERENCE
from integrations.variables import CUSTOM_MAX_LENGTH, STANDARD_VARIABLES


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
