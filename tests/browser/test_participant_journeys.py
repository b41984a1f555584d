"""A participant's journeys in a real browser: the campaign, the IdP and back, the form.

The product runs on http://127.0.0.1:<port> (pytest-django's live server) and the development
IdP on http://localhost:<port>: two sites. Coming back from the IdP's consent page to
/oauth/callback is a cross-site navigation, so these journeys only succeed because the session
and CSRF cookies are SameSite=Lax (the login attempt is bound to this browser's session): the
test client, which ignores SameSite, cannot show that.
"""

import re

import pytest
from playwright.sync_api import expect

from demo.management.commands import seed_demo
from participants.models import Participation
from tests.browser.conftest import MOBILE_VIEWPORT

pytestmark = pytest.mark.browser


def open_campaign(page, demo, query: str = ""):
    page.goto(demo.url(f"/c/{demo.campaign.slug}/{query}"))


def test_participant_logs_in_finds_the_form_prefilled_corrects_it_and_takes_part(
    page, demo, idp, screenshot, webhook_receiver, settings, monkeypatch
):
    # The customer's endpoint, as the demo makes it: signed with the receiver's secret.
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = True
    monkeypatch.setenv("DEMO_WEBHOOK_SECRET", webhook_receiver.secret)
    seed_demo.seed_webhook(account=demo.account, url=webhook_receiver.url, note=pytest.fail)

    open_campaign(page, demo)
    expect(page.get_by_role("heading", level=1)).to_have_text("Summer contest")
    screenshot("campaign")
    page.get_by_role("link", name="Log in with Demo IdP").click()

    idp.log_in(page, "alice")
    page.get_by_role("button", name="Allow").click()

    form_url = demo.url(f"/c/{demo.campaign.slug}/form/")
    page.wait_for_url(re.compile(re.escape(form_url)))
    expect(page.get_by_text("We filled in what your Demo IdP account told us")).to_be_visible()

    # Read-only: shown, disabled, with the hint saying why.
    first_name = page.get_by_label("First name")
    expect(first_name).to_have_value("Alice")
    expect(first_name).to_be_disabled()
    expect(first_name).to_have_accessible_description(
        "From your Demo IdP account, cannot be changed here"
    )
    expect(page.get_by_label("Last name")).to_have_value("Martin")
    expect(page.get_by_label("Last name")).to_be_disabled()
    # Shown and editable, with a discreet hint tied to the field.
    email = page.get_by_label("E-mail address")
    expect(email).to_have_value("alice.martin@example.com")
    expect(email).to_be_editable()
    expect(email).to_have_accessible_description("From your Demo IdP account")
    expect(page.get_by_label("Phone number")).to_have_value("+32470123456")
    expect(page.get_by_label("City")).to_have_value("Bruxelles")
    expect(page.get_by_label("Country")).to_have_value("BE")
    expect(page.get_by_label("I want to receive the newsletter")).to_be_checked()
    # Hidden: known from the IdP, so not asked at all.
    expect(page.get_by_label("Date of birth")).to_have_count(0)
    assert page.locator("[name='f-birthdate']").count() == 0

    screenshot("prefilled")
    page.get_by_label("City").fill("Namur")
    page.get_by_role("button", name="Submit").click()

    page.wait_for_url(demo.url(f"/c/{demo.campaign.slug}/thanks/") + "?r=*")
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you for taking part!")

    participation = Participation.objects.get(campaign=demo.campaign)
    assert participation.values["city"] == "Namur"
    assert participation.values["firstname"] == "Alice"
    assert participation.values["birthdate"] == "1990-04-12"
    assert participation.changed == ["city"]

    # The customer hears of the correction: a signed profile.updated (tasks run at once here).
    event = webhook_receiver.wait_for_event("profile.updated", timeout=20)
    assert event["verified"] is True, event["error"]
    data = event["body"]["data"]
    assert data["changes"] == {"city": {"before": "Bruxelles", "after": "Namur"}}
    assert data["participation_id"] == participation.pk
    assert data["participant"]["subject"] == idp.devidp.participants["alice"]["subject"]
    assert data["campaign"]["slug"] == demo.campaign.slug


@pytest.mark.parametrize("browser_viewport", [MOBILE_VIEWPORT], ids=["mobile"])
def test_participant_cancels_at_the_idp_and_can_retry_or_go_on_without_logging_in(
    page, demo, idp, screenshot
):
    open_campaign(page, demo)
    screenshot("campaign")
    page.get_by_role("link", name="Log in with Demo IdP").click()
    idp.log_in(page, "bob")
    page.get_by_role("button", name="Cancel").click()

    page.wait_for_url(demo.url("/oauth/callback/*"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign-in was cancelled")
    expect(page).to_have_title(re.compile("Sign-in was cancelled"))
    retry = page.get_by_role("link", name="Try again")
    without = page.get_by_role("link", name="Continue without logging in")
    expect(retry).to_be_visible()
    expect(without).to_have_attribute("href", f"/c/{demo.campaign.slug}/form/")
    screenshot("cancelled")

    # Going on without logging in: the empty form, still offering the login.
    without.click()
    page.wait_for_url(demo.url(f"/c/{demo.campaign.slug}/form/"))
    expect(page.get_by_label("First name")).to_have_value("")
    expect(page.get_by_label("First name")).to_be_editable()
    page.go_back()

    # Trying again: still logged in at the IdP, so straight to its consent page.
    page.wait_for_url(demo.url("/oauth/callback/*"))
    page.get_by_role("link", name="Try again").click()
    page.locator("#consent-form").wait_for()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(demo.url(f"/c/{demo.campaign.slug}/form/"))
    expect(page.get_by_label("First name")).to_have_value("Bob")
    # bob's IdP knows no phone and no birth date: he is asked for them, without a hint.
    expect(page.get_by_label("Phone number")).to_have_value("")
    expect(page.get_by_label("Date of birth")).to_be_visible()
    expect(page.get_by_label("Date of birth")).not_to_have_accessible_description(
        re.compile("Demo IdP")
    )


@pytest.mark.parametrize("browser_locale", ["fr-FR"])
def test_french_participant_sees_the_campaign_errors_and_prefilled_form_in_french(
    page, demo, idp, screenshot
):
    open_campaign(page, demo)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text("Concours d’été")
    expect(page.get_by_text("Gagnez un week-end à la mer")).to_be_visible()
    page.get_by_role("link", name="Participer").click()

    # Sent empty: French messages, in a summary announced to screen readers and by each field.
    page.get_by_role("button", name="Envoyer").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Il y a un problème")
    expect(summary).to_contain_text("Prénom : Ce champ est obligatoire.")
    expect(page.get_by_label("Prénom")).to_have_accessible_description(
        re.compile("Ce champ est obligatoire")
    )
    page.get_by_label("Adresse e-mail").fill("pas-une-adresse")
    page.get_by_label("Numéro de téléphone").fill("123")
    page.get_by_role("button", name="Envoyer").click()
    expect(summary).to_contain_text("Saisissez une adresse e-mail valide.")
    expect(summary).to_contain_text("Saisissez un numéro de téléphone valide")
    expect(page).to_have_title(re.compile("^Erreur"))
    screenshot("errors")

    # The login round trip keeps the language: back on the French form, prefilled.
    page.get_by_role("link", name="Se connecter avec Demo IdP").click()
    idp.log_in(page, "chloe")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(re.escape(demo.url(f"/c/{demo.campaign.slug}/form/"))))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_label("Prénom")).to_have_value("Chloé")
    expect(page.get_by_label("Prénom")).to_have_accessible_description(
        "D’après votre compte Demo IdP, non modifiable ici"
    )
    expect(page.get_by_label("Adresse e-mail")).to_have_accessible_description(
        "D’après votre compte Demo IdP"
    )
    # chloe writes "France": the mapping made it FR, shown by its French name.
    expect(page.get_by_label("Pays")).to_have_value("FR")
    expect(page.get_by_label("Pays").locator("option:checked")).to_have_text("France")
    expect(page.get_by_label("Je souhaite recevoir la newsletter")).not_to_be_checked()
    page.get_by_role("button", name="Envoyer").click()

    page.wait_for_url(demo.url(f"/c/{demo.campaign.slug}/thanks/") + "?r=*")
    expect(page.get_by_role("heading", level=1)).to_have_text("Merci de votre participation\u202f!")
    assert Participation.objects.get(campaign=demo.campaign).language == "fr"


@pytest.mark.parametrize("browser_locale", ["fr-FR"])
def test_french_participant_reads_the_notice_logs_in_and_says_not_you(page, demo, idp, screenshot):
    open_campaign(page, demo)

    # The notice next to the login button: what the login shares, and the privacy policy.
    notice = page.locator(".sso-notice")
    expect(notice).to_contain_text(
        "Si vous vous connectez avec Demo IdP, cette campagne reçoit de votre compte\u00a0:"
    )
    shared = notice.get_by_role("list", name=re.compile("cette campagne reçoit"))
    expect(shared.get_by_role("listitem")).to_contain_text(
        ["Prénom", "Nom", "Adresse e-mail", "Date de naissance", "Identifiant du compte"]
    )
    policy = notice.get_by_role("link", name=re.compile("^Politique de confidentialité"))
    expect(policy).to_have_attribute("href", seed_demo.DEMO_PRIVACY_POLICY_URL)
    expect(policy).to_have_attribute("target", "_blank")
    screenshot("notice")

    page.get_by_role("link", name="Se connecter avec Demo IdP").click()
    idp.log_in(page, "alice")
    page.get_by_role("button", name="Allow").click()
    form_url = demo.url(f"/c/{demo.campaign.slug}/form/")
    page.wait_for_url(re.compile(re.escape(form_url)))
    expect(page.get_by_label("Prénom")).to_have_value("Alice")
    expect(page.get_by_label("Adresse e-mail")).to_have_value("alice.martin@example.com")
    not_you = page.get_by_role("button", name="Ce n’est pas vous\u202f?")
    expect(not_you).to_have_accessible_description(
        "Oublier ces données dans ce navigateur et recommencer."
    )
    screenshot("prefilled")

    not_you.click()

    page.wait_for_url(form_url + "?lang=fr")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_label("Prénom")).to_have_value("")
    expect(page.get_by_label("Prénom")).to_be_editable()
    expect(page.get_by_label("Adresse e-mail")).to_have_value("")
    expect(page.get_by_text("alice.martin@example.com")).to_have_count(0)
    # Alice is forgotten here: the login is offered again, not "Continue as Alice".
    expect(page.get_by_role("link", name="Se connecter avec Demo IdP")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Continuer en tant que"))).to_have_count(0)
    assert not Participation.objects.filter(campaign=demo.campaign).exists()
