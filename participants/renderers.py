"""The participation form's widgets, written out in Python instead of through widget templates.

Django renders every widget through the template engine: `text.html` includes `input.html`,
which includes `attrs.html`, each a template render with its own context. On the participant's
form page that was most of the page's CPU, for a handful of `<input>` tags. This renderer writes
the same HTML (byte for byte, tested against Django's own templates) for the widgets the
participation form uses, and hands any other template to Django unchanged.
"""

from html import escape

from django.forms.renderers import DjangoTemplates
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

_WIDGETS = "django/forms/widgets/"
# `input.html` and the templates that only include it. (Django strips what a widget template
# writes, so the includes' line breaks never reach the page.)
_INPUT_TEMPLATES = frozenset(
    f"{_WIDGETS}{name}.html"
    for name in ("input", "text", "email", "date", "tel", "number", "url", "password", "checkbox")
)


def conditional_escape(value) -> str:
    """Django's `conditional_escape` without its wrapper for lazy strings: the same text, for a
    value written into the page at once. (Django's wraps every call in a check of its arguments
    for lazy objects, which cost more than the escaping on this page's hundred-odd values.)"""
    if hasattr(value, "__html__"):
        return value.__html__()
    return escape(str(value))


class ParticipationFormRenderer(DjangoTemplates):
    def render(self, template_name, context, request=None):
        widget = context.get("widget")
        if widget is not None and not widget.get("subwidgets"):
            if template_name in _INPUT_TEMPLATES:
                return _input(widget)
            if template_name == f"{_WIDGETS}select.html" and _plain_options(widget):
                return _select(widget)
            if template_name == f"{_WIDGETS}textarea.html":
                return _textarea(widget)
        return super().render(template_name, context, request)


def _attrs(attrs: dict) -> str:
    # attrs.html: `False` leaves the attribute out, `True` writes it bare.
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {conditional_escape(name)}")
        if value is not True:
            parts.append(f'="{conditional_escape(value)}"')
    return "".join(parts)


def _input(widget: dict) -> str:
    value = widget["value"]
    value_attr = f' value="{conditional_escape(value)}"' if value is not None else ""
    return (
        f'<input type="{conditional_escape(widget["type"])}" '
        f'name="{conditional_escape(widget["name"])}"{value_attr}{_attrs(widget["attrs"])}>'
    )


def _plain_options(widget: dict) -> bool:
    return all(
        option["template_name"] == f"{_WIDGETS}select_option.html"
        for _group, options, _index in widget["optgroups"]
        for option in options
    )


def _select(widget: dict) -> str:
    parts = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in options:
            parts.append(
                f'\n  <option value="{conditional_escape(option["value"])}"'
                f"{_attrs(option['attrs'])}>{conditional_escape(option['label'])}</option>\n"
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


def _textarea(widget: dict) -> str:
    value = conditional_escape(widget["value"]) if widget["value"] else ""
    return (
        f'<textarea name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>\n'
        f"{value}</textarea>"
    )


def field_row_html(row) -> SafeString:
    """One field of the participation form: label, hint, error and widget, tied together by ids
    for screen readers. Written here rather than through a template for the same reason as the
    widgets (the template costs about 50 µs more per row). The same markup as a template is
    templates/jinja2/participants/_field_row.html; tests/participants/test_renderers.py renders
    every kind of row through both and requires the same HTML: change both together."""
    field = row.field
    label_text = conditional_escape(field.label)
    if field.field.required:
        label_text += f' <span class="required">{conditional_escape(gettext("(required)"))}</span>'
    label = f'<label for="{conditional_escape(field.auto_id)}">{label_text}</label>'
    widget = conditional_escape(str(field))
    classes = "field"
    if field.errors:
        classes += " field--error"
    if row.is_checkbox:
        classes += " field--checkbox"
    parts = [f'<div class="{classes}">']
    parts += [widget, label] if row.is_checkbox else [label]
    if row.hint:
        parts.append(
            f'<p class="hint" id="{conditional_escape(row.hint_id)}">'
            f"{conditional_escape(row.hint)}</p>"
        )
    if field.errors:
        errors = " ".join(str(error) for error in field.errors)
        parts.append(
            f'<p class="error-message" id="{conditional_escape(row.error_id)}">'
            f'<span class="visually-hidden">{conditional_escape(gettext("Error:"))}</span> '
            f"{conditional_escape(errors)}</p>"
        )
    if not row.is_checkbox:
        parts.append(widget)
    parts.append("</div>")
    # Every value above went through conditional_escape; the rest is this function's markup.
    return mark_safe("".join(parts))  # noqa: S308
