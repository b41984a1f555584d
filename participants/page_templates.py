"""The public pages' template language: Jinja2, through Django's own Jinja2 backend.

The participant's pages (templates/jinja2/) are the product's hot path: a login journey renders
four of them. Rendering them in Django's template language took 11.2 million of the journey's
43 million instructions; in Jinja2, which compiles a template to Python once instead of walking
its nodes on every render, 7.7 million, the form's rows and the CSRF token included (BENCHMARKS.md,
"Fourteenth round"). The admin keeps Django's templates.

What the pages find besides their context (Django's backend adds `request`, `csrf_input` and
`csrf_token`; settings.py's context processors `LANGUAGE_CODE`):
- `_()` / `gettext()` and `{% trans %}`, Django's own catalogues (`jinja2.ext.i18n`; the msgids
  are the ones Django's `{% translate %}` and `{% blocktranslate %}` wrote);
- `static()`, `url()` and `campaign_path()`, as the tags of the same names;
- `{% call page_part("header") %}…{% endcall %}`, a part of the page rendered once per campaign
  (below);
- the filters `date` (in the current time zone, as Django's) and `linebreaks`.
"""

from django.template import defaultfilters
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone, translation
from jinja2 import ChainableUndefined, Environment, pass_context

from participants.pages import campaign_url


def environment(**options) -> Environment:
    # Always escaped, whatever the caller asks: these pages show what participants typed. A
    # missing value (or its attribute) writes nothing, as in Django's templates, with DEBUG
    # too (Django's backend would write `{{ name }}` on the page then).
    options.pop("autoescape", None)
    options["undefined"] = ChainableUndefined
    env = Environment(autoescape=True, extensions=["jinja2.ext.i18n"], **options)
    env.install_gettext_callables(
        translation.gettext,
        translation.ngettext,
        newstyle=True,
        pgettext=translation.pgettext,
        npgettext=translation.npgettext,
    )
    env.globals.update(
        static=static,
        url=_url,
        campaign_path=campaign_url,
        page_part=page_part,
    )
    env.filters.update(date=date, linebreaks=defaultfilters.linebreaks_filter)
    return env


def _url(name: str, *args) -> str:
    return reverse(name, args=args)


def date(value, format_name: str = "") -> str:
    """Django's `|date`: an aware datetime is shown in the current time zone."""
    if value is None or value == "":
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return defaultfilters.date(value, format_name)


@pass_context
def page_part(context, name: str, caller) -> str:
    """A part of a campaign's page rendered once per campaign, language, path and page template,
    and written from then on as it was rendered.

    `participants.pages.page_render` gives a campaign's page a `page_parts` store that lives
    with the campaign's published copy (campaigns/lookup.py), so that any change of the campaign
    renders the parts again, and that no campaign's parts can reach another's page. Without the
    store (a page of no campaign, an embedded page, a page whose links carry a receipt), the
    part renders each time.

    What a part shows must therefore depend on nothing but the campaign, the language, the path
    and the page's template: never on the participant, the session, the form or the query
    string. The blocks inside a part stay overridable: a page template that overrides one is its
    own key (`context.name`, the template the page rendered, whatever it extends; a template
    made from a string has no name, and no key)."""
    parts = context.get("page_parts")
    if parts is None or context.name is None:
        return caller()
    key = (name, context.name)
    html = parts.get(key)
    if html is None:
        html = parts[key] = caller()
    return html
