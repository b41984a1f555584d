"""Returning participants: for SSO_REMEMBER_SECONDS after a login, another campaign of the same
integration offers "Continue as <first name>" in the same browser session, with "Not you?"."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations.models import MappingRule
from participants.login.profile import REDACTED
from participants.models import LoginAttempt, RememberedLogin
from tests.factories import AccountFactory, OAuthIntegrationFactory, make_form_campaign
from tests.idp_stub import IdPStub
from tests.participants.conftest import form_url
from tests.participants.login.sso_flow import (
    callback,
    idp_answers,
    login_start,
    mock,
)

pytestmark = pytest.mark.django_db

CLAIMS = {"given_name": "Ada", "family_name": "Lovelace", "email": "ada@idp.example"}


@pytest.fixture
def first(campaign):
    """The conftest's SSO campaign; `second` shares its integration."""
    return campaign


@pytest.fixture
def second(account, integration):
    """Another campaign of the same integration."""
    return make_form_campaign(account=account, oauth_integration=integration, slug="winter")


def log_in_at_the_idp(client, campaign, claims=CLAIMS):
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, IdPStub(), started, claims=claims)
        assert callback(client, started).status_code == 303


def landing(client, campaign):
    return client.get(reverse("participants:landing", args=[campaign.slug]), {"lang": "en"})


def continue_url(campaign):
    return reverse("participants:continue_as", args=[campaign.slug]) + "?lang=en"


def test_another_campaign_of_the_integration_offers_continue_as_with_not_you(client, first, second):
    log_in_at_the_idp(client, first)

    for page in (landing(client, second), client.get(form_url(second, lang="en"))):
        assert ">Continue as Ada</button>" in page.text
        continue_form = page.text.split('class="continue-as"', 1)[1].split("</form>", 1)[0]
        assert 'name="csrfmiddlewaretoken"' in continue_form
        assert ">Not you?</button>" in page.text
        assert "Log in with Example ID" not in page.text
        assert "If you continue, this campaign receives from your Example ID account:" in (
            page.text
        )


def test_continue_prefills_the_campaign_without_a_trip_to_the_idp(client, first, second):
    log_in_at_the_idp(client, first)
    attempts = LoginAttempt.objects.count()

    with mock() as rsps:  # any call to the IdP would fail: none is registered
        response = client.post(continue_url(second))
        assert not rsps.calls

    assert response.status_code == 303
    assert response["Location"] == form_url(second, lang="en")
    page = client.get(response["Location"]).text
    assert 'value="Ada"' in page and 'value="Lovelace"' in page
    assert "We filled in what your Example ID account told us." in page
    assert LoginAttempt.objects.count() == attempts


def test_continue_takes_nothing_from_the_browser(client, first, second):
    log_in_at_the_idp(client, first)
    client.post(continue_url(second), {"f-firstname": "Mallory", "participant_id": "999"})
    page = client.get(form_url(second)).text
    assert 'value="Ada"' in page and "Mallory" not in page


def test_continue_derives_the_prefill_again_through_the_current_mapping(
    client, first, second, integration
):
    log_in_at_the_idp(client, first)
    rule = MappingRule.objects.get(integration=integration, target="firstname")
    rule.transform = "upper"
    rule.save()

    client.post(continue_url(second))

    assert 'value="ADA"' in client.get(form_url(second)).text


def test_outside_the_window_it_is_a_normal_login(client, first, second):
    log_in_at_the_idp(client, first)
    RememberedLogin.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    page = landing(client, second)
    assert "Continue as" not in page.text and "Log in with Example ID" in page.text
    response = client.post(continue_url(second))
    assert response.status_code == 303
    assert response["Location"].startswith(reverse("participants:login_start", args=["winter"]))


def test_a_window_of_zero_never_remembers(client, first, second, settings):
    settings.SSO_REMEMBER_SECONDS = 0
    log_in_at_the_idp(client, first)
    assert not RememberedLogin.objects.exists()
    assert "Log in with Example ID" in landing(client, second).text


def test_not_you_beside_continue_forgets_the_remembered_login(client, first, second):
    log_in_at_the_idp(client, first)

    response = client.post(reverse("participants:not_you", args=[second.slug]))

    assert response.status_code == 303
    assert not RememberedLogin.objects.exists()
    assert "Log in with Example ID" in landing(client, second).text
    # ...and the first campaign's prefill of the same person goes too.
    assert 'value="Ada"' not in client.get(form_url(first)).text


def test_not_you_on_a_prefilled_form_also_ends_continue_elsewhere(client, first, second):
    log_in_at_the_idp(client, first)
    client.post(reverse("participants:not_you", args=[first.slug]))
    assert "Continue as" not in landing(client, second).text


def test_another_browser_is_offered_nothing(client, first, second):
    log_in_at_the_idp(client, first)
    assert "Continue as" not in landing(Client(), second).text


def test_never_across_integrations(client, account, first):
    other_integration = OAuthIntegrationFactory(account=account, display_name="Other ID")
    elsewhere = make_form_campaign(account=account, oauth_integration=other_integration)
    log_in_at_the_idp(client, first)
    page = landing(client, elsewhere)
    assert "Continue as" not in page.text and "Log in with Other ID" in page.text


def test_never_across_accounts_even_if_the_session_named_the_wrong_integration(client, first):
    other = AccountFactory()
    their_integration = OAuthIntegrationFactory(account=other, display_name="Their ID")
    theirs = make_form_campaign(account=other, oauth_integration=their_integration)
    log_in_at_the_idp(client, first)
    # Even a session whose token stood under the other account's integration finds nothing.
    session = client.session
    tokens = session["sso_remember"]
    session["sso_remember"] = {str(their_integration.pk): next(iter(tokens.values()))}
    session.save()

    assert "Continue as" not in landing(client, theirs).text
    client.post(continue_url(theirs))
    assert 'value="Ada"' not in client.get(form_url(theirs)).text


def test_when_the_integration_is_switched_off_nothing_is_offered(
    client, first, second, integration
):
    log_in_at_the_idp(client, first)
    integration.enabled = False
    integration.save()
    assert "Continue as" not in landing(client, second).text
    client.post(continue_url(second))
    assert 'value="Ada"' not in client.get(form_url(second)).text


def test_a_mapping_that_now_needs_what_the_profile_lacks_leads_to_a_login(
    client, first, second, integration
):
    log_in_at_the_idp(client, first)
    MappingRule.objects.create(integration=integration, target="phone", source="phone_number",
                               required=True, position=9)  # fmt: skip

    response = client.post(continue_url(second))

    assert response["Location"].startswith(reverse("participants:login_start", args=["winter"]))
    assert not RememberedLogin.objects.exists()


def test_without_a_first_name_the_button_names_the_idp(client, first, second, integration):
    rule = MappingRule.objects.get(integration=integration, target="firstname")
    rule.required = False
    rule.save()
    log_in_at_the_idp(client, first, claims={"email": "ada@idp.example"})
    assert ">Continue with your Example ID account</button>" in landing(client, second).text


def test_continue_is_a_post_only(client, first, second):
    log_in_at_the_idp(client, first)
    assert client.get(continue_url(second)).status_code == 405


def test_the_remembered_profile_is_encrypted_and_holds_no_token_like_values(client, first):
    log_in_at_the_idp(client, first)
    with connection.cursor() as cursor:
        cursor.execute("SELECT profile FROM participants_rememberedlogin")
        (stored,) = cursor.fetchone()
    assert "Ada" not in stored and "Lovelace" not in stored
    profile = RememberedLogin.objects.get().profile
    assert "Ada" in profile
    assert f'"nonce": "{REDACTED}"' in profile
    assert "opaque-access-token" not in profile


def test_the_french_page_offers_continue_in_french(client, first, second):
    log_in_at_the_idp(client, first)
    page = client.get(reverse("participants:landing", args=[second.slug]), {"lang": "fr"})
    assert ">Continuer en tant que Ada</button>" in page.text
    assert ">Ce n’est pas vous\u202f?</button>" in page.text


def test_the_daily_purge_deletes_expired_remembered_logins(client, first, account):
    log_in_at_the_idp(client, first)
    current = RememberedLogin.objects.get()
    log_in_at_the_idp(Client(), first, claims={**CLAIMS, "sub": "user-2"})
    RememberedLogin.objects.exclude(pk=current.pk).update(expires_at=timezone.now())
    out = StringIO()

    call_command("purge_login_attempts", stdout=out)

    assert list(RememberedLogin.objects.all()) == [current]
    assert "1 expired remembered logins" in out.getvalue()
