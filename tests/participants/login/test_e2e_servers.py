"""End to end against two independent OAuth servers on 127.0.0.1: the development IdP
(django-oauth-toolkit) and Authlib's authorization server (tests/authlib_idp_app.py).

Integrations are saved through the admin form, as an Administrator would, with the help
article's seven fields and nothing in Advanced; participants then log in through the real
servers. What the development IdP cannot do (a REST profile without openid, JWT access tokens,
the user in the token answer) runs against Authlib alone.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from integrations.models import MappingRule, OAuthIntegration
from integrations.oauth.redirect_uri import callback_url
from participants.models import AttemptOutcome, LoginAttempt, Participant
from tests.authlib_idp_server import authlib_idp  # noqa: F401  (session fixture)
from tests.factories import make_form_campaign
from tests.participants.login.sso_flow import login_start

pytestmark = pytest.mark.e2e

RULES = [("firstname", "given_name", "first_name", True), ("lastname", "family_name", "", False)]


@dataclass
class Server:
    """One OAuth server as the tests use it, whichever implementation it is."""

    name: str
    idp: object
    tenant: str = "acme"

    @property
    def authorize_url(self) -> str:
        if self.name == "devidp":
            return self.idp.authorize_url
        return self.idp.authorize_url(self.tenant)

    @property
    def token_url(self) -> str:
        if self.name == "devidp":
            return self.idp.token_url
        return self.idp.token_url(self.tenant)

    @property
    def issuer(self) -> str:
        return self.idp.issuer if self.name == "devidp" else self.idp.issuer(self.tenant)

    def register(self, client_id, secret, redirect_uri, *, auth_method, pkce, **extras):
        if self.name == "devidp":
            self.idp.add_client(client_id, secret, redirect_uri, pkce_required=pkce)
        else:
            self.idp.add_client(client_id, secret, redirect_uri, auth_method=auth_method, **extras)

    def log_in(self, url: str) -> str:
        return self.idp.login_and_authorize(url, "alice", self.idp.password)


@pytest.fixture(params=["devidp", "authlib"])
def server(request, devidp, authlib_idp):  # noqa: F811
    return Server(request.param, devidp if request.param == "devidp" else authlib_idp)


@pytest.fixture
def administrator(admin_user_a) -> Client:
    client = Client()
    client.force_login(admin_user_a)
    return client


def save_integration(administrator, server, *, client_id, secret, auth, pkce, **fields):
    """The admin form as an Administrator fills it: the seven fields, plus `fields`."""
    data = {
        "display_name": f"{server.name} {client_id}",
        "enabled": "on",
        "authorization_endpoint": server.authorize_url,
        "token_endpoint": server.token_url,
        "client_id": client_id,
        "client_secret": secret,
        "client_auth_method": auth,
        "scope": "openid profile email",
        "connect_timeout": "5",
        "read_timeout": "10",
        **({"use_pkce": "on"} if pkce else {}),
        **fields,
    }
    response = administrator.post(reverse("admin:integrations_oauthintegration_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    integration = OAuthIntegration.objects.get(client_id=client_id)
    for position, (target, source, fallback, required) in enumerate(RULES):
        MappingRule.objects.create(
            integration=integration,
            target=target,
            source=source,
            fallback=fallback,
            required=required,
            position=position,
        )
    return integration


def participant_logs_in(client, server, integration) -> tuple:
    campaign = make_form_campaign(
        account=integration.account, slug=f"e2e-{integration.pk}", oauth_integration=integration
    )
    started = login_start(client, campaign)
    location = server.log_in(started.response["Location"])
    assert location.startswith(callback_url(integration) + "?"), location
    parts = urlsplit(location)
    response = client.get(f"{parts.path}?{parts.query}")
    attempt = LoginAttempt.objects.get(integration=integration)
    assert response.status_code == 303, (attempt.failed_step, attempt.error_code)
    assert attempt.outcome == AttemptOutcome.SUCCESS
    page = client.get(response["Location"])
    return Participant.objects.get(integration=integration), page.text


# ---------------------------------------------------------------------------- both servers
@pytest.mark.parametrize(
    ("auth", "pkce"),
    [
        ("client_secret_post", True),
        ("client_secret_post", False),
        ("client_secret_basic", True),
        ("client_secret_basic", False),
    ],
)
def test_the_seven_fields_log_a_participant_in(client, administrator, server, auth, pkce):
    # Every character that an encoding can get wrong, in the id and in the secret.
    client_id = f"e2e:{auth[14:]}+{int(pkce)}/=&% é"
    secret = f"s3:c+r/e=t&% é€ {auth}"
    integration = save_integration(
        administrator, server, client_id=client_id, secret=secret, auth=auth, pkce=pkce
    )
    # Found from the typed endpoints on save: the issuer's own document, so verified.
    assert (integration.issuer, integration.issuer_verified) == (server.issuer, True)
    assert integration.jwks_uri
    server.register(client_id, secret, callback_url(integration), auth_method=auth, pkce=pkce)
    participant, page = participant_logs_in(client, server, integration)
    assert participant.issuer_key == server.issuer
    assert 'value="Alice"' in page and 'value="Martin"' in page


# ---------------------------------------------------------------------------- Authlib alone
@pytest.fixture
def authlib(authlib_idp):  # noqa: F811
    return Server("authlib", authlib_idp)


def test_the_seven_fields_without_any_discovery_document_log_in_unsigned(
    client, administrator, authlib
):
    authlib.tenant = "bare"
    integration = save_integration(
        administrator,
        authlib,
        client_id="e2e-bare",
        secret="bare secret",
        auth=("client_secret_basic"),
        pkce=True,
    )
    assert (integration.issuer, integration.jwks_uri) == ("", "")
    assert integration.id_token_signatures_unchecked
    authlib.register(
        "e2e-bare",
        "bare secret",
        callback_url(integration),
        auth_method=("client_secret_basic"),
        pkce=True,
    )
    participant, page = participant_logs_in(client, authlib, integration)
    assert participant.issuer_key == f"integration:{integration.pk}"
    assert 'value="Alice"' in page


def test_plain_oauth2_with_a_rest_profile(client, administrator, authlib):
    integration = save_integration(
        administrator,
        authlib,
        client_id="e2e-rest",
        secret="rest secret",
        auth="client_secret_post",
        pkce=True,
        scope="profile",
        profile_endpoint=authlib.idp.rest_profile_url(),
    )
    authlib.register(
        "e2e-rest",
        "rest secret",
        callback_url(integration),
        auth_method=("client_secret_post"),
        pkce=True,
    )
    participant, page = participant_logs_in(client, authlib, integration)
    # The REST profile's numeric id names the participant; first_name fills the form.
    assert participant.subject.isdigit() and 'value="Alice"' in page


def test_no_userinfo_and_a_jwt_access_token_naming_the_participant(client, administrator, authlib):
    integration = save_integration(
        administrator,
        authlib,
        client_id="e2e-jwt-at",
        secret="jwt secret",
        auth="client_secret_basic",
        pkce=False,
        scope="profile",
        identifier_source="access_token",
    )
    # Saving found the keys the access token needs; no userinfo without openid.
    assert integration.jwks_uri and integration.issuer and not integration.profile_endpoint
    authlib.register(
        "e2e-jwt-at",
        "jwt secret",
        callback_url(integration),
        auth_method=("client_secret_basic"),
        pkce=False,
        jwt_access_token=True,
    )
    participant, page = participant_logs_in(client, authlib, integration)
    assert participant.subject == "6f1c2a0e-5d1b-4c39-9a43-1f0a5b7e2c01"  # alice's sub
    assert 'value="Alice"' in page


@pytest.mark.parametrize(
    ("extras", "field", "firstname"),
    [
        ("user_id", "user_id", "given_name"),
        ("strava", "athlete.id", "token.athlete.firstname"),
        ("slack", "authed_user.id", "given_name"),
    ],
)
def test_an_identifier_in_the_token_answer(
    client, administrator, authlib, extras, field, firstname
):
    client_id = f"e2e-token-{extras}"
    integration = save_integration(
        administrator,
        authlib,
        client_id=client_id,
        secret="token secret",
        auth="client_secret_post",
        pkce=True,
        scope="read",
        identifier_source="token",
        identifier_field=field,
    )
    MappingRule.objects.filter(integration=integration, target="firstname").update(
        source=firstname, required=extras == "strava"
    )
    authlib.register(
        client_id,
        "token secret",
        callback_url(integration),
        auth_method=("client_secret_post"),
        pkce=True,
        token_extras=extras,
    )
    participant, page = participant_logs_in(client, authlib, integration)
    assert participant.issuer_key == f"integration:{integration.pk}"
    assert participant.subject in ("u-1000", "1000", "U1000")
    if extras == "strava":
        assert 'value="Alice"' in page
