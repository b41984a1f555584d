"""The public pages' templates (templates/jinja2/, participants/page_templates.py): every
sentence they show is in the French catalogue, what they show is escaped, and a moment shows in
the site's time zone."""

import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import render_to_string
from django.test import override_settings
from django.utils import translation
from jinja2 import DebugUndefined
from jinja2.ext import babel_extract

from participants.page_templates import environment
from tests.participants.conftest import form_url, landing_url
from tests.participants.login.sso_flow import make_sso_campaign

PAGES = Path(settings.BASE_DIR) / "templates" / "jinja2"


def page_messages() -> list[tuple[str, int, str | tuple]]:
    """(template, line, msgid or (singular, plural)) of every sentence the pages translate."""
    found = []
    for path in sorted(PAGES.rglob("*.html")):
        with path.open("rb") as source:
            for line, _function, message, _comments in babel_extract(
                source, ("_", "gettext", "ngettext"), [], {"trimmed": "false"}
            ):
                if isinstance(message, tuple):
                    message = tuple(part for part in message if part is not None)
                found.append((str(path.relative_to(PAGES)), line, message))
    return found


def test_the_pages_translate_their_sentences():
    messages = page_messages()
    templates = {template for template, _line, _message in messages}
    # Every page of the participant's, and the parts they include.
    assert {"base_public.html", "participants/form.html", "participants/_not_you.html"} <= templates
    assert len(messages) > 100


def test_every_sentence_of_the_public_pages_is_in_french():
    untranslated = []
    with translation.override("fr"):
        for template, line, message in page_messages():
            if isinstance(message, tuple):
                singular, plural = message
                shown = [translation.ngettext(singular, plural, n) for n in (1, 2)]
                if shown == [singular, plural]:
                    untranslated.append(f"{template}:{line} {singular!r}")
            elif translation.gettext(message) == message:
                untranslated.append(f"{template}:{line} {message!r}")
    assert untranslated == []


@pytest.mark.django_db
def test_what_organisers_typed_is_escaped_on_the_pages(client, account):
    campaign, integration = make_sso_campaign(account)
    campaign.title = campaign.title_fr = 'Summer <b>contest</b> & "friends"'
    campaign.save()
    integration.display_name = "Idp<script>alert(1)</script>"
    integration.save()
    for page in (client.get(landing_url(campaign)), client.get(form_url(campaign, lang="fr"))):
        assert "<script>" not in page.text and "<b>" not in page.text
        assert "Idp&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # in a sentence
        assert "Summer &lt;b&gt;contest&lt;/b&gt; &amp; &#34;friends&#34;" in page.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "shown"),
    [("UTC", "15 Jan 2027, 17:30 UTC"), ("Europe/Paris", "15 Jan 2027, 18:30 CET")],
)
def test_the_closing_time_shows_in_the_sites_time_zone(client, campaign, zone, shown):
    campaign.ends_at = datetime.datetime(2027, 1, 15, 17, 30, tzinfo=datetime.UTC)
    campaign.save()
    with override_settings(TIME_ZONE=zone):
        english = client.get(landing_url(campaign, lang="en")).text
        french = client.get(landing_url(campaign, lang="fr")).text
    assert f"Open until {shown}." in english
    assert f"Ouvert jusqu’au {shown}." in french


def test_a_missing_value_writes_nothing_even_when_debugging():
    # Django's Jinja2 backend asks for DebugUndefined under DEBUG: `{{ name }}` on the page.
    env = environment(undefined=DebugUndefined, autoescape=False)
    page = env.from_string("<p>{{ missing }}</p><p>{{ also.missing }}</p>{{ '<b>' }}")
    assert page.render() == "<p></p><p></p>&lt;b&gt;"


WAITING_PAGES = ["participants/rate_limited.html", "participants/unavailable.html"]


@pytest.mark.parametrize("page", WAITING_PAGES)
@pytest.mark.parametrize(
    ("language", "seconds", "sentence"),
    [
        ("en", 1, "Please try again in 1 second."),
        ("en", 30, "Please try again in 30 seconds."),
        ("fr", 1, "Veuillez réessayer dans 1 seconde."),
        ("fr", 30, "Veuillez réessayer dans 30 secondes."),
    ],
)
def test_the_waiting_pages_say_when_to_come_back(rf, page, language, seconds, sentence):
    with translation.override(language):
        html = render_to_string(page, {"retry_after_seconds": seconds}, rf.get("/"))
    assert f"<p>{sentence}</p>" in html
