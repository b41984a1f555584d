"""End to end against a real OAuth server: the development IdP (django-oauth-toolkit).

The product's views run in the test client; the IdP runs in its own process on 127.0.0.1 and
every call to it (token, JWKS, userinfo) goes over real HTTP through the egress guard.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import MappingRule
from integrations.oauth.redirect_uri import callback_url
from participants.models import AttemptOutcome, LoginAttempt, Participant
from tests.factories import OAuthIntegrationFactory, make_form_campaign
from tests.participants.login.sso_flow import callback_path, login_start

pytestmark = pytest.mark.e2e

SECRET = "e2e secret: with + / = % and é"
OIDC_SCOPE = "openid profile email phone address"


def make_campaign(account, devidp, *, client_id, auth, pkce, scope, profile):
    integration = OAuthIntegrationFactory(
        account=account,
        display_name="Dev IdP",
        client_id=client_id,
        client_secret=SECRET,
        authorization_endpoint=devidp.authorize_url,
        token_endpoint=devidp.token_url,
        profile_endpoint=devidp.userinfo_url if profile else "",
        scope=scope,
        use_pkce=pkce,
        client_auth_method=auth,
        issuer=devidp.issuer,
        jwks_uri=devidp.jwks_url,
        iss_parameter_supported=True,
    )
    # Registered at the IdP: exactly this integration's own callback URL.
    devidp.add_client(client_id, SECRET, callback_url(integration), pkce_required=pkce)
    for position, (target, source, required) in enumerate(
        [
            ("firstname", "given_name", True),
            ("lastname", "family_name", False),
            ("email", "email", False),
            ("phone", "phone_number", False),
        ]
    ):
        MappingRule.objects.create(
            integration=integration,
            target=target,
            source=source,
            required=required,
            position=position,
        )
    return make_form_campaign(
        account=account, slug=f"e2e-{client_id}", oauth_integration=integration
    )


def back_from_idp(client, devidp, campaign, *, allow=True):
    started = login_start(client, campaign)
    location = devidp.login_and_authorize(
        started.response["Location"], "alice", devidp.password, allow=allow
    )
    assert location.startswith(callback_url(campaign.oauth_integration) + "?")
    parts = urlsplit(location)
    return client.get(f"{parts.path}?{parts.query}")


@pytest.mark.parametrize(
    ("auth", "pkce", "profile"),
    [
        ("client_secret_post", True, True),
        ("client_secret_post", False, False),
        ("client_secret_basic", True, False),
        ("client_secret_basic", False, True),
    ],
)
def test_openid_login_through_the_development_idp(client, account, devidp, auth, pkce, profile):
    client_id = f"e2e-{auth[14:]}-{'pkce' if pkce else 'nopkce'}-{'ui' if profile else 'noui'}"
    campaign = make_campaign(
        account,
        devidp,
        client_id=client_id,
        auth=auth,
        pkce=pkce,
        scope=OIDC_SCOPE,
        profile=profile,
    )
    response = back_from_idp(client, devidp, campaign)
    attempt = LoginAttempt.objects.get()
    assert response.status_code == 303, (attempt.failed_step, attempt.error_code)
    assert attempt.outcome == AttemptOutcome.SUCCESS
    participant = Participant.objects.get()
    assert participant.issuer_key == devidp.issuer
    page = client.get(response["Location"])
    assert 'value="Alice"' in page.text and 'value="Martin"' in page.text


def test_cancelling_at_the_idp_shows_sign_in_cancelled(client, account, devidp):
    campaign = make_campaign(
        account,
        devidp,
        client_id="e2e-cancel",
        auth="client_secret_post",
        pkce=True,
        scope=OIDC_SCOPE,
        profile=False,
    )
    response = back_from_idp(client, devidp, campaign, allow=False)
    assert response.status_code == 400
    assert "Sign-in was cancelled" in response.text


@pytest.mark.parametrize("profile", [True, False])
def test_without_openid_there_is_no_identity_and_the_login_fails_cleanly(
    client,
    account,
    devidp,
    profile,
):
    campaign = make_campaign(
        account,
        devidp,
        client_id=f"e2e-plain-{profile}",
        auth="client_secret_basic",
        pkce=True,
        scope="profile email",
        profile=profile,
    )
    response = back_from_idp(client, devidp, campaign)
    attempt = LoginAttempt.objects.get()
    # The IdP issues no id_token and answers no userinfo without openid: nobody to recognise.
    assert response.status_code == 502
    assert attempt.failed_step in ("userinfo", "profile")
    assert not Participant.objects.exists()


def test_replaying_the_callback_is_refused(client, account, devidp):
    campaign = make_campaign(
        account,
        devidp,
        client_id="e2e-replay",
        auth="client_secret_post",
        pkce=False,
        scope=OIDC_SCOPE,
        profile=False,
    )
    started = login_start(client, campaign)
    location = devidp.login_and_authorize(started.response["Location"], "alice", devidp.password)
    parts = urlsplit(location)
    assert client.get(f"{parts.path}?{parts.query}").status_code == 303
    # While this browser holds the login's prefill, the replay only leads back to the form…
    back = client.get(f"{parts.path}?{parts.query}")
    assert back.status_code == 303 and back["Location"].endswith("/form/")
    # …once it is dropped ("Not you?"), the spent state is refused.
    client.post(reverse("participants:not_you", args=[campaign.slug]))
    again = client.get(f"{parts.path}?{parts.query}")
    assert again.status_code == 400 and "already been used" in again.text
    assert reverse("participants:login_start", args=[campaign.slug]) in again.text


@pytest.mark.parametrize(
    ("pkce", "code"), [(True, "invalid_grant"), (False, "id_token_nonce_mismatch")]
)
def test_an_injected_code_from_another_flow_is_refused(client, account, devidp, pkce, code):
    campaign = make_campaign(
        account,
        devidp,
        client_id=f"e2e-inject-{pkce}",
        auth="client_secret_post",
        pkce=pkce,
        scope=OIDC_SCOPE,
        profile=False,
    )
    attacker = Client()
    attackers_flow = login_start(attacker, campaign)
    location = devidp.login_and_authorize(
        attackers_flow.response["Location"], "bob", devidp.password
    )
    stolen_code = parse_qs(urlsplit(location).query)["code"][0]
    victims_flow = login_start(client, campaign)
    response = client.get(
        callback_path(victims_flow),
        {"code": stolen_code, "state": victims_flow.state, "iss": devidp.issuer},
    )
    assert response.status_code in (400, 502)
    victims_attempt = LoginAttempt.objects.get(outcome=AttemptOutcome.FAILED)
    assert victims_attempt.error_code == code
    assert not Participant.objects.exists()
