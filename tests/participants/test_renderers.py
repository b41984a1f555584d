"""The participation form's widgets written in Python are exactly what Django's templates write."""

import datetime

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates

from campaigns.lookup import public_campaign
from participants.forms import ParticipationForm
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
