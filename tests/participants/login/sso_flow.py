"""Drive the participant SSO flow in tests: start, answer as the IdP (`responses`), call back."""

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import responses
from django.urls import reverse

from integrations.models import MappingRule
from tests.factories import OAuthIntegrationFactory, make_form_campaign
from tests.idp_stub import IdPStub

TOKEN_URL = "https://idp.example.com/token"
USERINFO_URL = "https://idp.example.com/userinfo"
JWKS_URL = "https://idp.example.com/jwks"
CALLBACK = reverse("participants:oauth_callback")

DEFAULT_RULES = [
    ("firstname", "given_name", "first_name", True),
    ("lastname", "family_name", "last_name", False),
    ("email", "email", "", False),
]


def make_sso_campaign(account, *, rules=DEFAULT_RULES, **integration_kwargs):
    integration = OAuthIntegrationFactory(account=account, **integration_kwargs)
    for position, (target, source, fallback, required) in enumerate(rules):
        MappingRule.objects.create(
            integration=integration,
            target=target,
            source=source,
            fallback=fallback,
            required=required,
            position=position,
        )
    campaign = make_form_campaign(account=account, slug="sso-summer", oauth_integration=integration)
    return campaign, integration


@dataclass
class Started:
    response: object
    params: dict = field(default_factory=dict)

    @property
    def state(self) -> str:
        return self.params["state"]

    @property
    def nonce(self) -> str | None:
        return self.params.get("nonce")


def login_start(client, campaign, **query) -> Started:
    url = reverse("participants:login_start", args=[campaign.slug])
    response = client.get(url, query)
    assert response.status_code == 302, response.status_code
    params = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
    return Started(response=response, params=params)


def idp_answers(
    rsps,
    idp: IdPStub,
    started: Started,
    *,
    claims: dict | None = None,
    token_body: dict | None = None,
    userinfo: dict | None = None,
    token_status: int = 200,
):
    """Register the IdP's token (and JWKS, userinfo) answers for this login."""
    if token_body is None:
        id_claims = idp.claims(nonce=started.nonce, **(claims or {}))
        token_body = {
            "access_token": "opaque-access-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": idp.sign(id_claims),
        }
    token = rsps.post(TOKEN_URL, json=token_body, status=token_status)
    rsps.get(JWKS_URL, json=idp.jwks())
    if userinfo is not None:
        rsps.get(USERINFO_URL, json=userinfo)
    return token


def callback_path(started: Started) -> str:
    """The path of the redirect URI the login was started with."""
    return urlsplit(started.params["redirect_uri"]).path


def callback(client, started: Started | None = None, *, path: str | None = None, **params):
    """The IdP's redirect back: to the redirect URI the login was started with (the
    integration's own callback URL), or to `path`, or, without a login, the shared one."""
    query = {"code": "the-code", "state": started.state} if started else {}
    query.update({k: v for k, v in params.items() if v is not None})
    for key in [k for k, v in params.items() if v is None]:
        query.pop(key, None)
    if path is None:
        path = callback_path(started) if started else CALLBACK
    return client.get(path, query)


def mock():
    return responses.RequestsMock(assert_all_requests_are_fired=False)
