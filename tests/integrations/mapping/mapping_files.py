"""Builders for the files the mapping upload tests send (generated, never committed)."""

import io
import zipfile

import openpyxl

HEADER = ["field", "source", "transform", "fallback", "required", "notes"]
GOOD_ROWS = [
    ["firstname", "given_name", "strip", "", "yes", "OIDC"],
    ["email", "email", "strip|lower", "", "yes", ""],
    ["country", "address.country", "country", "", "no", ""],
]


def csv_bytes(rows, *, delimiter=",", encoding="utf-8", header=HEADER) -> bytes:
    import csv

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows, *, header=HEADER, formulas=()) -> bytes:
    """A workbook; `formulas` = (row, column, formula) cells written as real formulas."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row_number, values in enumerate([header, *rows], start=1):
        for column_number, value in enumerate(values, start=1):
            cell = sheet.cell(row=row_number, column=column_number, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # text, even when it starts with "="
    for row_number, column_number, formula in formulas:
        sheet.cell(row=row_number, column=column_number).value = formula
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_with_part(data: bytes, name: str, content: bytes) -> bytes:
    """A copy of an XLSX with one part replaced or added."""
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename != name:
                target.writestr(item, source.read(item.filename))
        target.writestr(name, content)
    return buffer.getvalue()


def xlsx_with_shared_strings(data: bytes, content: bytes) -> bytes:
    """A copy of an XLSX whose shared strings part is `content`, declared so that a reader
    parses it (openpyxl writes none for a workbook like ours: an undeclared part is ignored)."""
    types = zipfile.ZipFile(io.BytesIO(data)).read("[Content_Types].xml")
    declared = types.replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml" /></Types>',
    )
    return xlsx_with_part(
        xlsx_with_part(data, "[Content_Types].xml", declared), "xl/sharedStrings.xml", content
    )


def zip_bomb() -> bytes:
    """A small XLSX-looking ZIP whose sheet expands to 60 MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as entry:
            chunk = b"0" * (1024 * 1024)
            for _ in range(60):
                entry.write(chunk)
    return buffer.getvalue()


def zip_with_many_entries(count: int = 300) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        for index in range(count):
            archive.writestr(f"xl/media/{index}.bin", b"x")
    return buffer.getvalue()


BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>
</sheetData></worksheet>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row>
</sheetData></worksheet>"""


def huge_dimension_sheet() -> bytes:
    """A sheet whose dimension tag claims the whole grid, with three real rows."""
    data = xlsx_bytes(GOOD_ROWS)
    archive = zipfile.ZipFile(io.BytesIO(data))
    sheet = archive.read("xl/worksheets/sheet1.xml")
    sheet = sheet.replace(b'<dimension ref="A1:F4" />', b'<dimension ref="A1:XFD1048576" />')
    assert b"XFD1048576" in sheet
    return xlsx_with_part(data, "xl/worksheets/sheet1.xml", sheet)
