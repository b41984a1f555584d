"""The header and footer of a campaign's pages are rendered once per campaign, language, path and
page (`page_part` in participants/page_templates.py, `page_parts` in participants/pages.py): what
each page shows stays its own campaign's, language's and participant's."""

import time
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client
from django.urls import reverse
from jinja2 import ChoiceLoader, DictLoader, FileSystemLoader

from accounts.models import Account
from campaigns.lookup import public_campaign
from participants.page_templates import environment
from participants.pages import PAGE_PARTS_PATHS, page_parts
from participants.views import RECEIPT_SALT
from tests.factories import OAuthIntegrationFactory, ParticipantFactory, make_form_campaign
from tests.participants.conftest import answers, form_token, form_url, landing_url, log_in
from tests.participants.embed_flow import HOST_SITE, FrameClient, embed_url, visit_token

pytestmark = pytest.mark.django_db


def header(page) -> str:
    text = page.content.decode()
    return text[text.index('<a class="skip-link"') : text.index("</header>")]


def footer(page) -> str:
    text = page.content.decode()
    return text[text.index('<footer class="site-footer">') : text.index("</footer>")]


def test_a_page_is_the_same_whether_its_parts_were_kept_or_not(client, campaign):
    for lang in ("en", "fr"):
        first = client.get(landing_url(campaign, lang=lang))  # renders the parts, keeps them
        again = client.get(landing_url(campaign, lang=lang))  # writes them as kept
        assert again.content == first.content
    assert public_campaign(campaign.slug).rendered_parts  # they were kept


def test_each_language_and_page_shows_its_own_header(client, campaign):
    english = client.get(landing_url(campaign, lang="en"))
    french = client.get(landing_url(campaign, lang="fr"))
    form = client.get(form_url(campaign, lang="en"))
    assert '<span aria-current="true" lang="en">' in header(english)
    assert f'href="{landing_url(campaign)}?lang=fr"' in header(english)
    assert '<span aria-current="true" lang="fr">' in header(french)
    assert f'href="{landing_url(campaign)}?lang=en"' in header(french)
    assert "Aller au contenu" in header(french) and "Skip to content" in header(english)
    assert f'href="{form_url(campaign)}?lang=fr"' in header(form)
    assert header(client.get(landing_url(campaign, lang="en"))) == header(english)


def test_a_changed_title_and_privacy_policy_show_at_once(client, campaign):
    client.get(landing_url(campaign))
    client.get(landing_url(campaign))
    campaign.title = "Winter contest"
    campaign.privacy_policy_url = "https://example.com/winter-privacy"
    campaign.save()
    page = client.get(landing_url(campaign))
    assert "Winter contest" in header(page) and "Summer contest" not in header(page)
    assert 'href="https://example.com/winter-privacy"' in footer(page)


def test_each_campaign_shows_its_own_parts_only(client, account):
    other = Account.objects.create(slug="other", name="Other")
    alpha = make_form_campaign(account=account, title="Alpha contest", slug="alpha")
    beta = make_form_campaign(account=other, title="Beta contest", slug="beta")
    for campaign, policy in ((alpha, "https://alpha.example/p"), (beta, "https://beta.example/p")):
        campaign.privacy_policy_url = policy
        campaign.save()
    for campaign, own, theirs in ((alpha, "alpha", "beta"), (beta, "beta", "alpha")) * 2:
        page = client.get(landing_url(campaign))
        assert f"{own.title()} contest" in header(page)
        assert f"{theirs.title()} contest" not in page.content.decode()
        assert f"https://{own}.example/p" in footer(page)
        assert f"https://{theirs}.example/p" not in page.content.decode()


class _EarlierSigner(signing.TimestampSigner):
    """Signs as a minute ago: another participant's receipt, for the same campaign."""

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 60)


def test_each_thank_you_page_links_carry_the_receipt_it_was_opened_with(campaign):
    browser = Client()
    page = browser.get(form_url(campaign))
    sent = browser.post(form_url(campaign), answers(form_token(page)))
    assert sent.status_code == 303
    receipts = [
        sent["Location"].split("r=", 1)[1],
        quote(_EarlierSigner(salt=RECEIPT_SALT).sign(str(campaign.pk))),
    ]
    assert receipts[0] != receipts[1]
    thanks = reverse("participants:thanks", args=[campaign.slug])
    headers = [header(Client().get(f"{thanks}?r={receipt}")) for receipt in receipts]
    for receipt, own in zip(receipts, headers, strict=True):
        assert f"r={receipt}" in own
    assert f"r={receipts[0]}" not in headers[1]


def test_each_visitor_of_an_embedded_page_gets_links_with_their_own_token(campaign):
    campaign.account.embed_allowed_origins = [HOST_SITE]
    campaign.account.save()
    tokens, headers = [], []
    for _visitor in range(2):
        page = FrameClient().get(embed_url(campaign))
        tokens.append(visit_token(page))
        headers.append(header(page))
    assert tokens[0] != tokens[1]
    assert f"t={tokens[0]}" in headers[0] and f"t={tokens[1]}" in headers[1]
    assert f"t={tokens[0]}" not in headers[1]


def test_a_campaign_keeps_the_parts_of_a_bounded_number_of_paths(campaign):
    published = public_campaign(campaign.slug)
    kept = [page_parts(published, "en", f"/oauth/callback/key-{n}") for n in range(40)]
    assert all(parts is not None for parts in kept[:PAGE_PARTS_PATHS])
    assert all(parts is None for parts in kept[PAGE_PARTS_PATHS:])
    # The paths kept first go on being served.
    assert page_parts(published, "en", "/oauth/callback/key-0") is kept[0]


def test_only_a_published_campaign_keeps_parts(campaign):
    assert page_parts(campaign, "en", "/c/summer/") is None  # the model, as in a preview
    assert page_parts(None, "en", "/c/nothing-here/") is None


def test_a_page_of_no_campaign_renders_its_parts_in_each_language(client):
    french = client.get("/c/nothing-here/?lang=fr")
    english = client.get("/c/nothing-here/?lang=en")
    assert french.status_code == english.status_code == 404
    assert "Aller au contenu" in header(french) and "Langue" in header(french)
    assert "Skip to content" in header(english) and "Language" in header(english)


def page_environment(pages: dict[str, str]):
    """The public pages' environment, with `pages` beside the product's templates."""
    return environment(
        loader=ChoiceLoader(
            [DictLoader(pages), FileSystemLoader(settings.BASE_DIR / "templates" / "jinja2")]
        )
    )


def test_a_page_that_overrides_a_block_inside_a_part_shows_its_own(campaign):
    env = page_environment(
        {
            "plain.html": '{% extends "base_public.html" %}',
            "own.html": '{% extends "base_public.html" %}'
            "{% block footer %}Our own footer{% endblock %}",
        }
    )
    published = public_campaign(campaign.slug)
    store = page_parts(published, "en", "/c/summer/")
    pages = [
        env.get_template(name).render(campaign=published, page_parts=store)
        for name in ("plain.html", "own.html", "plain.html", "own.html")
    ]
    assert "Our own footer" not in pages[0] and "Our own footer" in pages[1]
    assert pages[2] == pages[0] and pages[3] == pages[1]
    assert len(store) == 4  # header and footer, of each page


def test_a_part_of_a_template_made_from_a_string_is_never_kept(campaign):
    env = page_environment({})
    published = public_campaign(campaign.slug)
    store = page_parts(published, "en", "/c/summer/")
    pages = [
        env.from_string(
            f'{{% extends "base_public.html" %}}{{% block footer %}}{own}{{% endblock %}}'
        ).render(campaign=published, page_parts=store)
        for own in ("First footer", "Second footer")
    ]
    assert "First footer" in pages[0] and "Second footer" in pages[1]
    assert store == {}


# The empty participation form's rows (participants/forms.py, `rows_rendered`).


def fields_of(page) -> str:
    """The form's fields: after its one-time token, to the end of the form."""
    text = page.content.decode()
    token = text.index('<input type="hidden" name="form_token"')
    return text[text.index(">", token) + 1 : text.index("</form>", token)]


def test_the_empty_forms_fields_are_the_same_for_every_visitor_and_kept(campaign):
    pages = [Client().get(form_url(campaign, lang=lang)) for lang in ("en", "fr", "en", "fr")]
    assert fields_of(pages[2]) == fields_of(pages[0]) and fields_of(pages[3]) == fields_of(pages[1])
    assert 'for="id_f-firstname">First name' in fields_of(pages[2])
    assert 'for="id_f-firstname">Prénom' in fields_of(pages[3])
    assert set(public_campaign(campaign.slug).rendered_form_rows) == {"en", "fr"}


def test_a_visitors_answers_errors_and_idp_values_never_reach_the_next(campaign, account):
    Client().get(form_url(campaign))  # the empty form's fields, kept
    ada = Client()
    page = ada.get(form_url(campaign))
    refused = ada.post(form_url(campaign), answers(form_token(page), email="not-an-address"))
    assert refused.status_code == 200 and 'value="not-an-address"' in refused.text
    logged_in = Client()
    campaign.oauth_integration = OAuthIntegrationFactory(account=account, display_name="Acme ID")
    campaign.save()
    log_in(
        logged_in,
        campaign,
        ParticipantFactory(account=account, integration=campaign.oauth_integration),
    )
    prefilled = logged_in.get(form_url(campaign))
    assert 'value="Ada"' in prefilled.text and "From your Acme ID account" in prefilled.text
    for _ in range(2):
        fresh = fields_of(Client().get(form_url(campaign)))
        assert "not-an-address" not in fresh and "Ada" not in fresh and "Lovelace" not in fresh
        assert "error" not in fresh and "Acme ID" not in fresh


def test_a_changed_field_shows_on_the_empty_form_at_once(campaign):
    Client().get(form_url(campaign))
    Client().get(form_url(campaign))
    field = campaign.fields.get(variable="firstname")
    field.label_en = "Given name"
    field.save()
    assert 'for="id_f-firstname">Given name' in fields_of(Client().get(form_url(campaign)))
