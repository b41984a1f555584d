"""The mix-up attack of issue 14, step by step, against a real IdP on 127.0.0.1.

Account A connects the development IdP (django-oauth-toolkit, a real OAuth server in its own
process). Account B, any customer with the entitlement, is malicious: its integration's
authorization and token endpoints are its own server (a loopback server that records every token
request), with A's issuer typed in. RFC 9700 §4.4:

1. A participant (the victim) opens B's campaign and starts a login: the product sends them to
   B's "authorization endpoint" with B's state.
2. B starts a real login at A's campaign itself, swaps the victim's state in for its own and
   sends the victim to A's genuine IdP, where they are logged in already.
3. The IdP sends the victim back to the redirect URI registered for A's client, with a code for
   A and the victim's state.

Before this issue the product looked the attempt up by state alone, found B's, and posted A's
code to B's token endpoint. Now the redirect URI is A's own (`/oauth/callback/<A's key>`): the
state belongs to B's attempt, the path names A, and the callback refuses before any token
request. The code never reaches B, nothing is prefilled, no participant is created.
"""

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import MappingRule, SignInAlert
from integrations.oauth.redirect_uri import callback_url
from participants.models import AttemptOutcome, LoginAttempt, Participant, Participation
from tests.factories import OAuthIntegrationFactory, make_form_campaign
from tests.faults.servers import LoopbackIdP
from tests.participants.login.sso_flow import login_start

pytestmark = pytest.mark.e2e

SECRET = "account A's secret"
SCOPE = "openid profile email phone"


@pytest.fixture
def account_a_campaign(account, devidp):
    integration = OAuthIntegrationFactory(
        account=account,
        display_name="A's IdP",
        client_id="mixup-victim-a",
        client_secret=SECRET,
        authorization_endpoint=devidp.authorize_url,
        token_endpoint=devidp.token_url,
        profile_endpoint=devidp.userinfo_url,
        scope=SCOPE,
        use_pkce=False,
        issuer=devidp.issuer,
        jwks_uri=devidp.jwks_url,
        iss_parameter_supported=True,
    )
    # A's IT registered exactly A's own callback URL at A's IdP.
    devidp.add_client("mixup-victim-a", SECRET, callback_url(integration), pkce_required=False)
    for position, (target, source) in enumerate([("firstname", "given_name"), ("email", "email")]):
        MappingRule.objects.create(
            integration=integration, target=target, source=source, position=position
        )
    return make_form_campaign(account=account, slug="a-summer", oauth_integration=integration)


@pytest.fixture
def malicious_server():
    with LoopbackIdP() as server:
        yield server


@pytest.fixture
def account_b_campaign(other_account, devidp, malicious_server):
    integration = OAuthIntegrationFactory(
        account=other_account,
        display_name="B's IdP",
        client_id="attacker-b",
        authorization_endpoint=f"{malicious_server.base}/authorize",
        token_endpoint=f"{malicious_server.base}/token",
        profile_endpoint="",
        scope=SCOPE,
        issuer=devidp.issuer,  # A's issuer, typed in by B
        jwks_uri=devidp.jwks_url,
        iss_parameter_supported=True,
    )
    return make_form_campaign(
        account=other_account, slug="b-contest", oauth_integration=integration
    )


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    query["state"] = state
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_a_code_for_account_a_never_reaches_account_bs_token_endpoint(
    client, devidp, account_a_campaign, account_b_campaign, malicious_server
):
    victim = client
    # 1. The victim starts a login on B's campaign: off to B's server, with B's state.
    victims_flow = login_start(victim, account_b_campaign)
    assert victims_flow.response["Location"].startswith(malicious_server.base)
    b_state = victims_flow.state

    # 2. B starts a real login at A's campaign in its own browser, swaps in the victim's state,
    #    and sends the victim to A's genuine IdP with A's redirect URI.
    attacker = Client()
    attackers_flow = login_start(attacker, account_a_campaign)
    a_redirect_uri = attackers_flow.params["redirect_uri"]
    assert a_redirect_uri == callback_url(account_a_campaign.oauth_integration)
    lure = _with_state(attackers_flow.response["Location"], b_state)

    # 3. The victim, logged in at A's IdP, allows; the IdP sends them back to A's callback URL
    #    with a code for A and B's state. Their browser follows.
    location = devidp.login_and_authorize(lure, "alice", devidp.password)
    assert location.startswith(a_redirect_uri + "?")
    query = parse_qs(urlsplit(location).query)
    stolen_code = query["code"][0]
    assert query["state"] == [b_state]
    response = victim.get(location.removeprefix("https://sso.example.test"))

    # Refused before any network call: B's token endpoint never saw a request, let alone A's code.
    assert response.status_code == 400
    assert "We could not match this answer" in response.text
    assert malicious_server.calls["token"] == 0
    assert not any(stolen_code in body for body in malicious_server.token_bodies)
    refused = LoginAttempt.objects.get(integration=account_b_campaign.oauth_integration)
    assert refused.outcome == AttemptOutcome.FAILED
    assert (refused.failed_step, refused.error_code) == ("callback", "callback_mismatch")

    # B replays at its own callback URL, or at the shared one: the state is burnt either way.
    b_path = urlsplit(victims_flow.params["redirect_uri"]).path
    for path in (b_path, reverse("participants:oauth_callback")):
        again = victim.get(path, {"code": stolen_code, "state": b_state})
        assert again.status_code == 400
    assert malicious_server.calls["token"] == 0

    # No prefill leaked anywhere: A's form, in the victim's browser, is empty; nobody was created.
    form = victim.get(reverse("participants:form", args=[account_a_campaign.slug]))
    assert "Alice" not in form.text and "alice@" not in form.text
    form_b = victim.get(reverse("participants:form", args=[account_b_campaign.slug]))
    assert "Alice" not in form_b.text
    assert not Participant.objects.exists()
    assert not Participation.objects.exists()
    # And the forged trip raised no alert for either account.
    assert not SignInAlert.objects.exists()

    # The honest path keeps working: the attacker's own, unswapped flow at A completes at A's
    # callback URL with A's IdP, for the attacker's own account there.
    honest = devidp.login_and_authorize(attackers_flow.response["Location"], "bob", devidp.password)
    assert honest.startswith(a_redirect_uri + "?")
    done = attacker.get(honest.removeprefix("https://sso.example.test"))
    assert done.status_code == 303
    assert Participant.objects.get().integration == account_a_campaign.oauth_integration
    assert malicious_server.calls["token"] == 0
