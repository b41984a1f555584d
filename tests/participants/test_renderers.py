"""The participation form's widgets written in Python are exactly what Django's templates write."""

import datetime
import re

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import conditional_escape as django_conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from campaigns.lookup import CampaignFieldData, public_campaign
from campaigns.models import FieldOption, FieldType, WhenPrefilled
from participants import renderers
from participants.forms import FieldRow, ParticipationForm
from participants.prefill import Prefill
from participants.renderers import ParticipationFormRenderer
from tests.factories import make_form_campaign

TRICKY = "<b>\"Ada\" & 'Bob'</b>"
WIDGETS = {
    "text": (forms.TextInput(attrs={"maxlength": 100, "autocomplete": "given-name"}), "Ada"),
    "text without a value": (forms.TextInput(), None),
    "text with markup": (forms.TextInput(attrs={"data-x": TRICKY}), TRICKY),
    "true and false attributes": (
        forms.TextInput(attrs={"required": True, "disabled": False, "aria-describedby": "a b"}),
        "x",
    ),
    "email": (forms.EmailInput(attrs={"autocomplete": "email"}), "ada@example.com"),
    "date": (
        forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        datetime.date(1990, 5, 17),
    ),
    "tel": (forms.TextInput(attrs={"type": "tel"}), "+33612345678"),
    "number": (forms.NumberInput(), 42),
    "checkbox ticked": (forms.CheckboxInput(), True),
    "checkbox not ticked": (forms.CheckboxInput(), False),
    "select": (forms.Select(choices=[("", "—"), ("m", "Man"), ("f", TRICKY)]), "f"),
    "select nothing chosen": (forms.Select(choices=[("", "—"), ("m", "Man")]), None),
    "select with groups": (
        forms.Select(choices=[("Europe", [("be", "Belgium"), ("fr", "France")]), ("x", "Other")]),
        "fr",
    ),
    "textarea": (forms.Textarea(attrs={"rows": 3}), TRICKY),
    "empty textarea": (forms.Textarea(), ""),
    # Not written by our renderer: handed to Django's templates, so equal too.
    "radio buttons": (forms.RadioSelect(choices=[("a", "A"), ("b", "B")]), "a"),
    "hidden": (forms.HiddenInput(), "secret-ish"),
}


@pytest.mark.parametrize("case", WIDGETS)
def test_each_widget_is_written_as_django_writes_it(case):
    widget, value = WIDGETS[case]
    ours = widget.render("f-field", value, {"id": "id_f-field"}, ParticipationFormRenderer())
    django = widget.render("f-field", value, {"id": "id_f-field"}, DjangoTemplates())
    assert ours == django


@pytest.mark.django_db
def test_the_whole_form_is_written_as_django_writes_it(account):
    campaign = make_form_campaign(account=account)
    prefill = Prefill(
        participant_id=1,
        values={"firstname": TRICKY, "gender": "F", "birthdate": "1990-05-17"},
        integration_name="Acme ID",
    )
    data = {"f-firstname": TRICKY, "f-email": "not an address", "f-optin_newsletter": "on"}

    def html(renderer, data=None):
        form = ParticipationForm(
            data,
            fields=public_campaign(campaign.slug).fields,
            prefill=prefill,
            language="fr",
            renderer=renderer,
        )
        form.is_valid() if data else None
        return [str(row.field) for row in form.rows()]

    assert html(None) == html(DjangoTemplates())
    assert html(None, data) == html(DjangoTemplates(), data)
    assert 'value="&lt;b&gt;' in "".join(html(None))


# ---------------------------------------------------------------------------- row markup
# `field_row_html` writes each form row in Python; templates/jinja2/participants/_field_row.html is
# the same markup as a template. Every kind of row must come out the same from both.


def _normalised(html: str) -> str:
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", str(html))).strip()


def _field(variable, field_type, *, required=False, when_prefilled=WhenPrefilled.SHOW, options=()):
    return CampaignFieldData(
        id=0,
        variable=variable,
        label_en=f"{variable.capitalize()} <en>",
        label_fr=f"{variable.capitalize()} « fr »",
        field_type=field_type,
        options=tuple(FieldOption(v, f"{v} label", f"{v} libellé") for v in options),
        required=required,
        when_prefilled=when_prefilled,
        position=0,
    )


EVERY_FIELD = (
    _field("firstname", FieldType.TEXT, required=True),
    _field("lastname", FieldType.TEXT, when_prefilled=WhenPrefilled.READONLY),
    _field("nickname", FieldType.TEXT),
    _field("email", FieldType.EMAIL, required=True),
    _field("birthdate", FieldType.DATE),
    _field("phone", FieldType.PHONE),
    _field("gender", FieldType.SELECT, options=("m", "f", "x")),
    _field("optin_newsletter", FieldType.CHECKBOX, required=True),
    _field("optin_partners", FieldType.CHECKBOX),
)
PREFILL = Prefill(
    participant_id=1,
    values={"firstname": TRICKY, "lastname": "Lovelace", "gender": "f"},
    integration_name="Acme <ID>",
)
ROW_CASES = {
    "empty": (None, None),
    "prefilled": (None, PREFILL),
    "submitted with errors": (
        {"f-email": "not an address", "f-birthdate": "2999-01-01", "f-phone": "12"},
        None,
    ),
    "prefilled with errors": ({"f-firstname": "", "f-phone": "nope"}, PREFILL),
    "submitted valid": (
        {
            "f-firstname": TRICKY,
            "f-email": "ada@example.com",
            "f-birthdate": "1990-05-17",
            "f-gender": "x",
            "f-optin_newsletter": "on",
        },
        None,
    ),
}


def _rows_both_ways(rows):
    for row in rows:
        yield row, row.html(), render_to_string("participants/_field_row.html", {"row": row})


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("case", ROW_CASES)
def test_every_form_row_is_written_as_its_template_writes_it(case, language):
    data, prefill = ROW_CASES[case]
    with translation.override(language):
        form = ParticipationForm(data, fields=EVERY_FIELD, prefill=prefill, language=language)
        form.is_valid() if data is not None else None
        rows = form.rows()
        assert len(rows) == len(EVERY_FIELD)
        for row, ours, template in _rows_both_ways(rows):
            assert _normalised(ours) == _normalised(template), row.field.name


def test_the_row_cases_show_what_they_claim():
    """The comparison above covers hints, errors, required marks, checkboxes and both
    languages: each shows in what both ways write."""
    with translation.override("fr"):
        form = ParticipationForm(
            {"f-email": "nope"}, fields=EVERY_FIELD, prefill=PREFILL, language="fr"
        )
        form.is_valid()
        html = "".join(str(row.html()) for row in form.rows())
    assert "(obligatoire)" in html
    assert 'class="field field--error"' in html
    assert 'class="field field--checkbox"' in html
    assert 'class="hint"' in html and "Acme &lt;ID&gt;" in html
    assert 'class="error-message"' in html
    assert "disabled" in html  # the read-only prefilled field
    assert "« fr »" in html


@pytest.mark.parametrize("language", ["en", "fr"])
def test_each_input_tells_the_browser_what_it_holds(language):
    """What phones and browsers use to offer the right keyboard, the date picker and autofill,
    and a prefilled date the date picker can show: ISO, whatever form the IdP sent it in
    (`type="date"` shows 17/05/1990 as an empty field)."""
    prefill = Prefill(
        participant_id=1,
        values={"birthdate": "17/05/1990", "phone": "+33 6 12 34 56 78"},
        integration_name="Acme",
    )
    with translation.override(language):
        form = ParticipationForm(None, fields=EVERY_FIELD, prefill=prefill, language=language)
        inputs = {
            row.field.name: re.search(r"<input [^>]*>", str(row.html())).group(0)
            for row in form.rows()
            if row.field.name != "gender"
        }
    assert 'type="text"' in inputs["firstname"]
    assert 'maxlength="100" autocomplete="given-name"' in inputs["firstname"]
    assert 'type="email"' in inputs["email"]
    assert 'maxlength="254" autocomplete="email"' in inputs["email"]
    assert 'type="date"' in inputs["birthdate"] and 'value="1990-05-17"' in inputs["birthdate"]
    assert 'type="tel"' in inputs["phone"] and 'value="+33612345678"' in inputs["phone"]
    assert 'maxlength="32" autocomplete="tel"' in inputs["phone"]
    assert 'type="checkbox"' in inputs["optin_newsletter"]


class _OtherWidgets(forms.Form):
    """Widgets the participation form does not build today, through the same row markup."""

    count = forms.IntegerField(required=True, widget=forms.NumberInput(attrs={"min": 0}))
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    size = forms.ChoiceField(choices=[("s", "Small"), ("l", TRICKY)], widget=forms.RadioSelect)


@pytest.mark.parametrize("data", [None, {"f-count": "x", "f-note": TRICKY, "f-size": "z"}])
def test_number_textarea_and_radio_rows_are_written_as_the_template_writes_them(data):
    form = _OtherWidgets(data, prefix="f", renderer=ParticipationFormRenderer())
    form.is_valid() if data else None
    rows = [
        FieldRow(
            field=bound,
            hint="A hint" if bound.name == "note" else "",
            hint_id=f"{bound.auto_id}-hint",
            error_id=f"{bound.auto_id}-error",
            is_checkbox=False,
        )
        for bound in form
    ]
    for row, ours, template in _rows_both_ways(rows):
        assert _normalised(ours) == _normalised(template), row.field.name
        assert ('field--error"' in ours) == bool(data and row.field.name != "note")


@pytest.mark.parametrize(
    "value",
    [TRICKY, mark_safe("<b>kept</b>"), gettext_lazy("Error:"), 42, None, "", "a\"b'c&d<e>"],
    ids=["tricky", "safe", "lazy", "int", "none", "empty", "quotes"],
)
def test_the_renderers_escaping_is_djangos(value):
    assert renderers.conditional_escape(value) == django_conditional_escape(value)
