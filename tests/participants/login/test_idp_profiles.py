"""Each real IdP shape in tests/fixtures/idp-profiles logs in and prefills without a crash."""

import json
import time
from pathlib import Path

import pytest
from django.urls import reverse

from participants.models import AttemptOutcome, LoginAttempt, Participant
from tests.idp_stub import CLIENT_ID, ISSUER, IdPStub
from tests.participants.login.sso_flow import (
    JWKS_URL,
    TOKEN_URL,
    USERINFO_URL,
    callback,
    login_start,
    make_sso_campaign,
    mock,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "idp-profiles"
# Azure AD B2C answers `scope=openid` with an id_token and no access_token: it must log in too.
PROFILES = [p.stem for p in sorted(FIXTURES.glob("*.json"))]
RULES = [
    ("firstname", "given_name", "first_name", False),
    ("lastname", "family_name", "last_name", False),
    ("email", "email", "emails[0]", False),
]


def _ours(claims: dict, *, nonce: str | None) -> dict:
    """The fixture's claims, re-issued by our stub IdP for this login."""
    now = int(time.time())
    claims = {**claims, "iss": ISSUER, "aud": CLIENT_ID, "iat": now, "exp": now + 300}
    if "azp" in claims:
        claims["azp"] = CLIENT_ID
    claims.pop("nonce", None)
    if nonce:
        claims["nonce"] = nonce
    return claims


@pytest.mark.parametrize("name", PROFILES)
def test_real_idp_profile_logs_in_and_prefills(client, account, name):
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    idp = IdPStub()
    oidc = data["id_token_claims"] is not None
    # Where the fixture's IdP names the user, when the automatic choice would not find it.
    source, _, field = data.get("participant_identifier", "auto.").partition(".")
    campaign, _integration = make_sso_campaign(
        account,
        rules=RULES,
        scope="openid email profile" if oidc else "profile",
        profile_endpoint=USERINFO_URL if data["userinfo"] is not None else "",
        identifier_source=source,
        identifier_field=field,
    )
    started = login_start(client, campaign)
    token = dict(data["token_response"])
    if oidc:
        token["id_token"] = idp.sign(_ours(data["id_token_claims"], nonce=started.nonce))
    if data["access_token_claims"]:
        token["access_token"] = idp.sign(_ours(data["access_token_claims"], nonce=None))
    with mock() as rsps:
        rsps.post(TOKEN_URL, json=token)
        rsps.get(JWKS_URL, json=idp.jwks())
        if data["userinfo"] is not None:
            rsps.get(USERINFO_URL, json=data["userinfo"])
        response = callback(client, started)
    assert response.status_code == 303, LoginAttempt.objects.get().error_code
    assert LoginAttempt.objects.get().outcome == AttemptOutcome.SUCCESS
    participant = Participant.objects.get()
    assert participant.subject and "@" not in participant.subject.split("|")[-1]
    if "participant_identifier" in data:
        path = data["participant_identifier"].split(".")[1:]
        expected = data["token_response"]
        for key in path:
            expected = expected[key]
        assert participant.subject == str(expected)
    page = client.get(reverse("participants:form", args=[campaign.slug]))
    assert page.status_code == 200
