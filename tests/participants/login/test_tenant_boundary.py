"""The login flow trusts no tenant (issue 14): the callback path names the integration, the
shared callback only where a mix-up cannot happen, platform staff's kill switch, and `next`."""

import pytest
from django.urls import reverse

from campaigns.models import SSOMode
from integrations.oauth.redirect_uri import shared_callback_url
from participants.models import AttemptOutcome, LoginAttempt, Participant
from tests.factories import OAuthIntegrationFactory
from tests.participants.login.sso_flow import (
    TOKEN_URL,
    callback,
    idp_answers,
    login_start,
    make_sso_campaign,
    mock,
)

ISSUER = "https://idp.example.com"
VERIFIED = {
    "issuer": ISSUER,
    "authorization_endpoint": "https://idp.example.com/authorize",
    "token_endpoint": "https://idp.example.com/token",
    "jwks_uri": "https://idp.example.com/jwks",
}


def the_attempt() -> LoginAttempt:
    return LoginAttempt.objects.get()


# ---------------------------------------------------------------------------- callback path
def test_a_state_on_another_integrations_callback_url_is_refused_before_any_token_request(
    client, account, other_account, campaign, idp
):
    other_integration = OAuthIntegrationFactory(account=other_account, display_name="Other ID")
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started)
        response = callback(
            client, started, path=f"/oauth/callback/{other_integration.callback_key}"
        )
        assert len(rsps.calls) == 0
    assert response.status_code == 400
    assert response["Referrer-Policy"] == "no-referrer"
    attempt = the_attempt()
    assert attempt.outcome == AttemptOutcome.FAILED
    assert (attempt.failed_step, attempt.error_code) == ("callback", "callback_mismatch")
    assert attempt.error_reference in response.text
    # Burnt: the same state at its own URL is refused too, still without a token request.
    with mock() as rsps:
        assert callback(client, started).status_code == 400
        assert len(rsps.calls) == 0
    assert not Participant.objects.exists()


@pytest.mark.parametrize("key", ["unknown-key", "1", "x" * 43])
def test_an_unknown_callback_key_completes_nothing(client, campaign, key):
    started = login_start(client, campaign)
    with mock() as rsps:
        response = callback(client, started, path=f"/oauth/callback/{key}")
        assert len(rsps.calls) == 0
    assert response.status_code == 400
    assert the_attempt().error_code == "callback_mismatch"


def test_a_per_integration_login_on_the_shared_callback_url_is_refused(client, campaign):
    started = login_start(client, campaign)
    with mock() as rsps:
        response = callback(client, started, path=reverse("participants:oauth_callback"))
        assert len(rsps.calls) == 0
    assert response.status_code == 400
    assert the_attempt().error_code == "callback_mismatch"


# ---------------------------------------------------------------------------- shared callback
@pytest.fixture
def shared(account):
    """An integration of the help article's kind: the shared URL registered at the IdP, its
    issuer verified by discovery, and the IdP sending `iss`."""
    campaign, integration = make_sso_campaign(
        account, use_shared_callback=True, iss_parameter_supported=True
    )
    integration.discovered_settings = dict(VERIFIED)
    integration.save()
    return campaign, integration


def test_a_verified_issuer_that_sends_iss_may_use_the_shared_callback(client, shared, idp):
    campaign, integration = shared
    assert integration.issuer_verified and integration.shared_callback_allowed
    started = login_start(client, campaign)
    assert started.params["redirect_uri"] == shared_callback_url()
    with mock() as rsps:
        token = idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        response = callback(client, started, iss=ISSUER)
    assert response.status_code == 303, response.status_code
    assert token.call_count == 1
    assert the_attempt().outcome == AttemptOutcome.SUCCESS


@pytest.mark.parametrize(
    ("iss", "code"), [(None, "iss_missing"), ("https://attacker.example", "iss_mismatch")]
)
def test_on_the_shared_callback_iss_is_required_and_must_match(client, shared, idp, iss, code):
    campaign, _ = shared
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started)
        response = callback(client, started, iss=iss)
        assert len(rsps.calls) == 0
    assert response.status_code == 400
    assert (the_attempt().failed_step, the_attempt().error_code) == ("authorize", code)


def test_a_verified_integration_on_the_shared_url_is_refused_on_its_own_path_too(client, shared):
    campaign, integration = shared
    started = login_start(client, campaign)
    with mock() as rsps:
        response = callback(
            client, started, path=f"/oauth/callback/{integration.callback_key}", iss=ISSUER
        )
        assert len(rsps.calls) == 0
    assert response.status_code == 400
    assert the_attempt().error_code == "callback_mismatch"


@pytest.mark.parametrize(
    "edited", ["token_endpoint", "authorization_endpoint", "issuer", "jwks_uri"]
)
def test_an_edited_endpoint_takes_the_shared_callback_away(client, shared, edited):
    campaign, integration = shared
    setattr(integration, edited, "https://elsewhere.example/x")
    integration.save()
    assert not integration.issuer_verified
    landing = client.get(reverse("participants:landing", args=[campaign.slug]))
    assert "button--sso" not in landing.text
    response = client.get(reverse("participants:login_start", args=[campaign.slug]))
    assert response.status_code == 503
    assert "Location" not in response
    assert not LoginAttempt.objects.exists()


def test_an_attempt_on_the_shared_url_that_is_not_allowed_gets_the_not_configured_page(
    client, shared, idp
):
    # A login started while the issuer was verified; the snapshot says the shared URL was not
    # allowed (as for every integration migrated from the shared URL without verification).
    campaign, _ = shared
    started = login_start(client, campaign)
    attempt = the_attempt()
    attempt.snapshot = {**attempt.snapshot, "shared_callback_allowed": False}
    attempt.save()
    with mock() as rsps:
        idp_answers(rsps, idp, started)
        response = callback(client, started, iss=ISSUER)
        assert len(rsps.calls) == 0
    assert response.status_code == 400
    assert "This sign-in link is not configured" in response.text
    assert the_attempt().error_code == "shared_callback_refused"
    assert "Try again" not in response.text  # retrying cannot help


def test_the_not_configured_page_speaks_french(client, shared, idp):
    campaign, _ = shared
    started = login_start(client, campaign, lang="fr")
    attempt = the_attempt()
    attempt.snapshot = {**attempt.snapshot, "shared_callback_allowed": False}
    attempt.save()
    response = callback(client, started, iss=ISSUER)
    assert "Ce lien de connexion n’est pas configuré" in response.text


# ---------------------------------------------------------------------------- kill switch
def _switch_off(integration, switch: str) -> None:
    if switch == "account":
        integration.account.is_active = False
        integration.account.save()
    elif switch == "entitlement":
        integration.account.sso_oauth_enabled = False
        integration.account.save()
    else:
        integration.enabled = False
        integration.save()


SWITCHES = ["account", "entitlement", "integration"]


@pytest.mark.parametrize("switch", SWITCHES)
def test_switched_off_the_public_pages_offer_no_login_and_login_start_redirects_nowhere(
    client, campaign, integration, switch
):
    landing = reverse("participants:landing", args=[campaign.slug])
    assert "button--sso" in client.get(landing).text  # on, for comparison
    _switch_off(integration, switch)
    assert "button--sso" not in client.get(landing).text
    assert "button--sso" not in client.get(reverse("participants:form", args=[campaign.slug])).text
    response = client.get(reverse("participants:login_start", args=[campaign.slug]))
    assert response.status_code == 503
    assert "Location" not in response
    assert not LoginAttempt.objects.exists()
    # An optional-SSO campaign still takes part by hand: the page says so and links the form.
    assert "filling in the form yourself" in response.text
    assert reverse("participants:form", args=[campaign.slug]) in response.text


@pytest.mark.parametrize("switch", SWITCHES)
def test_switched_off_while_at_the_idp_the_callback_completes_nothing(
    client, campaign, integration, idp, switch
):
    started = login_start(client, campaign)
    _switch_off(integration, switch)
    with mock() as rsps:
        idp_answers(rsps, idp, started)
        response = callback(client, started)
        assert not any(call.request.url == TOKEN_URL for call in rsps.calls)
        assert len(rsps.calls) == 0
    assert response.status_code == 503
    assert the_attempt().error_code == "integration_unavailable"
    assert not Participant.objects.exists()


@pytest.mark.parametrize("switch", ["account", "entitlement"])
def test_staff_switches_stop_the_administrators_test_login_too(
    client, staff_user, integration, switch
):
    _switch_off(integration, switch)
    client.force_login(staff_user)
    response = client.get(reverse("participants:test_login_start", args=[integration.pk]))
    assert response.status_code == 409
    assert "The test login cannot start:" in response.text
    assert not LoginAttempt.objects.exists()


def test_a_campaign_requiring_sso_says_login_is_unavailable_when_switched_off(
    client, campaign, integration
):
    campaign.sso_mode = SSOMode.REQUIRED
    campaign.save()
    _switch_off(integration, "entitlement")
    page = client.get(reverse("participants:form", args=[campaign.slug]))
    assert "button--sso" not in page.text
    assert "not available" in page.text.lower()


# ---------------------------------------------------------------------------- next
@pytest.mark.parametrize(
    "next_value",
    [
        "/admin/",
        "/admin/integrations/oauthintegration/",
        "/c/another-campaign/form/",
        "/c/sso-summer/../../admin/",
        "/c/sso-summer/form/%2e%2e/%2e%2e/admin/",
        "/c/sso-summer/thanks/",
        "/oauth/callback",
        "//evil.example/c/sso-summer/form/",
        "/c/sso-summer/form/\\evil",
    ],
)
def test_next_is_limited_to_the_campaigns_own_pages(client, campaign, idp, next_value):
    started = login_start(client, campaign, next=next_value)
    form = reverse("participants:form", args=[campaign.slug])
    assert the_attempt().return_to == form
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        response = callback(client, started)
    assert response["Location"] == form


@pytest.mark.parametrize("next_value", ["/c/sso-summer/", "/c/sso-summer/form/?step=2&lang=fr"])
def test_the_campaigns_own_pages_are_kept_as_next(client, campaign, idp, next_value):
    started = login_start(client, campaign, next=next_value)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        assert callback(client, started)["Location"] == next_value
