"""The participation form, built from a campaign's fields and the participant's prefill."""

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.lookup import CampaignFieldData
from campaigns.models import FieldType, WhenPrefilled
from integrations.variables import Variable, VariableType, get_variable
from participants.prefill import Prefill
from participants.renderers import ParticipationFormRenderer, field_row_html

FORM_PREFIX = "f"
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"]


class PhoneField(forms.CharField):
    """A phone number, stored in E.164 (+33612345678)."""

    default_error_messages = {
        "invalid": _("Enter a valid phone number, e.g. +33 6 12 34 56 78."),
    }

    def __init__(self, *, region: str | None = None, **kwargs):
        self.region = region
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return value
        try:
            number = phonenumbers.parse(value, self.region)
        except phonenumbers.NumberParseException:
            raise ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not phonenumbers.is_valid_number(number):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _not_in_future(value: datetime.date) -> None:
    if value and value > timezone.localdate():
        raise ValidationError(_("Enter a date in the past."), code="future")


def _build_field(cf: CampaignFieldData, variable: Variable, language: str) -> forms.Field:
    """The form field of one campaign field. Each field makes its default widget, and ours is set
    on it afterwards: a widget passed to a field is deep-copied (Django's `Field.__init__`), 15
    copies a journey for nothing. Text fields get `maxlength` from their `max_length`."""
    common = {"label": cf.label(language), "required": cf.required}
    match cf.field_type:
        case FieldType.EMAIL:
            field = forms.EmailField(
                max_length=variable.max_length,
                # Django's French says "adresse de courriel"; our labels say "adresse e-mail".
                error_messages={"invalid": _("Enter a valid e-mail address.")},
                **common,
            )
            field.widget.attrs["autocomplete"] = "email"
        case FieldType.DATE:
            validators = [_not_in_future] if variable.type == VariableType.DATE else []
            field = forms.DateField(
                input_formats=DATE_INPUT_FORMATS, validators=validators, **common
            )
            field.widget.input_type, field.widget.format = "date", "%Y-%m-%d"
        case FieldType.PHONE:
            field = PhoneField(
                max_length=variable.max_length,
                region="FR" if language.startswith("fr") else None,
                **common,
            )
            field.widget.input_type = "tel"
            field.widget.attrs["autocomplete"] = "tel"
        case FieldType.SELECT:
            choices = [(o.value, o.label(language)) for o in cf.options]
            field = forms.ChoiceField(choices=[("", "—"), *choices], **common)
        case FieldType.CHECKBOX:
            field = forms.BooleanField(**common)
        case _:
            field = forms.CharField(max_length=variable.max_length, **common)
            field.widget.attrs.update(_autocomplete(variable.name))
    return field


_AUTOCOMPLETE = {
    "firstname": "given-name",
    "lastname": "family-name",
    "street": "street-address",
    "zipcode": "postal-code",
    "city": "address-level2",
    "country": "country",
}


def _autocomplete(name: str) -> dict[str, str]:
    return {"autocomplete": _AUTOCOMPLETE[name]} if name in _AUTOCOMPLETE else {}


def _serialize(value: Any) -> Any:
    """A cleaned form value as stored in the participation (JSON)."""
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass
class FieldRow:
    """What the template needs to render one field accessibly."""

    field: forms.BoundField
    hint: str
    hint_id: str
    error_id: str
    is_checkbox: bool

    def html(self) -> str:
        return field_row_html(self)


def rows_html(rows: list[FieldRow]) -> SafeString:
    # Each row's HTML is escaped by field_row_html; joining adds nothing.
    return mark_safe("".join(row.html() for row in rows))  # noqa: S308


class ParticipationForm(forms.Form):
    """One form field per campaign field; prefilled values follow each field's `when_prefilled`.

    Hidden and read-only values come from the server-side prefill, never from the POST: a hidden
    field is not part of the form at all, a read-only one is `disabled` (Django then ignores the
    posted value and uses the initial one).
    """

    # One instance for every form: a renderer builds its template engine once.
    default_renderer = ParticipationFormRenderer()

    def __init__(
        self,
        data=None,
        *,
        fields: Sequence[CampaignFieldData],
        prefill: Prefill | None,
        language: str,
        **kwargs,
    ):
        super().__init__(data, prefix=FORM_PREFIX, **kwargs)
        self.language = language
        self.integration_name = prefill.integration_name if prefill else ""
        self.variables: list[str] = []
        self.required_variables: set[str] = set()
        # {variable: value the IdP supplied}, normalised like a submitted value when valid.
        self.prefilled: dict[str, Any] = {}
        # {variable: value} of prefilled fields that are hidden: kept server-side only.
        self.hidden_values: dict[str, Any] = {}
        self._valid_prefill: dict[str, Any] = {}
        supplied = prefill.values if prefill else {}
        asked = set(prefill.targets) if prefill else set()
        for cf in fields:
            try:
                variable = get_variable(cf.variable)
            except ValueError:
                continue  # a name the admin would refuse today; never crash the public page
            formfield = _build_field(cf, variable, language)
            self.variables.append(cf.variable)
            if cf.required:
                self.required_variables.add(cf.variable)
            raw = supplied.get(cf.variable)
            if not _is_empty(raw):
                self._prefill_field(cf, formfield, raw)
            if cf.variable not in self.hidden_values:
                self.fields[cf.variable] = formfield
        # The form's variables the IdP was asked for, with a value or not: what the participant
        # submits for them is compared with what the IdP gave (profile.updated).
        self.idp_variables: list[str] = [
            v for v in self.variables if v in asked or v in self.prefilled
        ]

    def _prefill_field(self, cf: CampaignFieldData, formfield: forms.Field, raw: Any) -> None:
        if isinstance(formfield, forms.ChoiceField) and isinstance(raw, str):
            # A mapping table may say "M" where the campaign's option is "m".
            options = {str(value).casefold(): value for value, _ in formfield.choices if value}
            raw = options.get(raw.strip().casefold(), raw)
        try:
            value = formfield.clean(raw)
        except ValidationError:
            # Shown as supplied so the participant sees and fixes it; never hidden or locked.
            text = str(raw)[:2000]
            self.prefilled[cf.variable] = text
            formfield.initial = text
            return
        value = _serialize(value)
        self.prefilled[cf.variable] = value
        self._valid_prefill[cf.variable] = value
        formfield.initial = value
        formfield.prefilled = True
        if cf.when_prefilled == WhenPrefilled.HIDE:
            self.hidden_values[cf.variable] = value
        elif cf.when_prefilled == WhenPrefilled.READONLY:
            formfield.disabled = True

    # -------------------------------------------------------------------- results
    def submitted_values(self) -> dict[str, Any]:
        """{variable: value} of a valid form, hidden prefilled values included."""
        values = {name: _serialize(self.cleaned_data.get(name)) for name in self.fields}
        values.update(self.hidden_values)
        return {v: values[v] for v in self.variables if v in values}

    def auto_submit_values(self) -> dict[str, Any] | None:
        """The values to submit at once, or None unless every required field was prefilled
        with a valid value."""
        if not self.required_variables <= set(self._valid_prefill):
            return None
        values = {}
        for variable in self.variables:
            if variable in self._valid_prefill:
                values[variable] = self._valid_prefill[variable]
            else:
                field = self.fields[variable]
                values[variable] = False if isinstance(field, forms.BooleanField) else ""
        return values

    # -------------------------------------------------------------------- rendering
    def rows_rendered(self, kept: dict | None) -> dict[str, Any]:
        """The form page's `rows` (its error summary) and `rows_html` (the fields).

        An empty form, nothing posted and nothing prefilled, shows the same fields to every
        visitor of the campaign in a language: with `kept` (the published campaign's
        `rendered_form_rows`, replaced with it on any change) they are written once, about
        0.9 million instructions a page (BENCHMARKS.md, "Fourteenth round"). A form that
        shows anything of a participant's (their answers, errors, IdP values) never is."""
        if kept is not None and not self.is_bound and not self.prefilled:
            html = kept.get(self.language)
            if html is None:
                html = kept[self.language] = rows_html(self.rows())
            return {"rows": [], "rows_html": html}
        rows = self.rows()
        return {"rows": rows, "rows_html": rows_html(rows)}

    def rows(self) -> list[FieldRow]:
        rows = []
        for bound in self:
            field = bound.field
            hint = ""
            if getattr(field, "prefilled", False) and self.integration_name:
                if field.disabled:
                    # Greyed out: say why, or people wonder what is wrong with the field.
                    hint = gettext("From your %(idp)s account, cannot be changed here") % {
                        "idp": self.integration_name
                    }
                else:
                    hint = gettext("From your %(idp)s account") % {"idp": self.integration_name}
            auto_id = bound.auto_id
            hint_id, error_id = f"{auto_id}-hint", f"{auto_id}-error"
            described_by = [i for i, on in ((hint_id, hint), (error_id, bound.errors)) if on]
            if described_by:
                field.widget.attrs["aria-describedby"] = " ".join(described_by)
            rows.append(
                FieldRow(
                    field=bound,
                    hint=hint,
                    hint_id=hint_id,
                    error_id=error_id,
                    is_checkbox=isinstance(field, forms.BooleanField),
                )
            )
        return rows
