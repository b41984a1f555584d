"""Where the participant's identifier comes from: the integration's setting, end to end through
the callback (the IdP answered with `responses`)."""

import json
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest

from integrations.models import IdentifierSource
from participants.models import AttemptOutcome, LoginAttempt, Participant
from participants.prefill import prefill_get
from tests.idp_stub import CLIENT_ID, rsa_key
from tests.participants.login.sso_flow import (
    JWKS_URL,
    TOKEN_URL,
    USERINFO_URL,
    callback,
    idp_answers,
    login_start,
    make_sso_campaign,
    mock,
)

PROFILES = Path(__file__).resolve().parents[2] / "fixtures" / "idp-profiles"
AT_JWT = {"typ": "at+jwt"}


def fixture(name: str) -> dict:
    return json.loads((PROFILES / f"{name}.json").read_text())


def attempt() -> LoginAttempt:
    return LoginAttempt.objects.get()


def log_in(client, campaign, *, token_body, userinfo=None, jwks=None, idp=None):
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, json=token_body(started) if callable(token_body) else token_body)
        if idp is not None:
            rsps.get(JWKS_URL, json=idp.jwks())
        if userinfo is not None:
            rsps.get(USERINFO_URL, json=userinfo)
        response = callback(client, started)
    return response


def prefilled(client, campaign) -> dict:
    """The values the campaign form is prefilled with after this login."""
    return prefill_get(SimpleNamespace(session=client.session), campaign).values


# ---------------------------------------------------------------------------- token answer
@pytest.mark.parametrize(
    ("name", "field", "subject"),
    [
        ("strava-like", "athlete.id", "48213377"),
        ("slack-like", "authed_user.id", "U07AB12CD3E"),
        (
            "salesforce-like",
            "id",
            "https://login.salesforce.com/id/00D5g000004XyZ1EAK/0055g00000AbCdEQAZ",
        ),
    ],
)
def test_a_participant_is_named_by_a_field_of_the_token_answer(
    client, account, name, field, subject
):
    campaign, integration = make_sso_campaign(
        account,
        rules=[("firstname", "token.athlete.firstname", "", False)],
        scope="read",
        issuer="",
        jwks_uri="",
        identifier_source=IdentifierSource.TOKEN,
        identifier_field=field,
    )
    response = log_in(client, campaign, token_body=fixture(name)["token_response"])
    assert response.status_code == 303, attempt().error_code
    participant = Participant.objects.get()
    assert (participant.issuer_key, participant.subject) == (
        f"integration:{integration.pk}",
        subject,
    )


def test_identity_and_mapping_read_the_token_answer_alike(client, account):
    campaign, _integration = make_sso_campaign(
        account,
        rules=[
            ("firstname", "token.athlete.firstname", "", True),
            ("lastname", "token.athlete.lastname", "", False),
        ],
        scope="read,profile:read_all",
        identifier_source=IdentifierSource.TOKEN,
        identifier_field="athlete.id",
    )
    response = log_in(client, campaign, token_body=fixture("strava-like")["token_response"])
    assert response.status_code == 303
    assert prefilled(client, campaign) == {"firstname": "Léa", "lastname": "Van den Berghe"}


def test_a_token_nested_in_the_token_answer_never_reaches_the_form(client, account):
    """Slack's authed_user carries a user token of its own beside the user's id."""
    campaign, _integration = make_sso_campaign(
        account,
        rules=[("firstname", "token.authed_user.access_token", "", False)],
        scope="identity.basic",
        identifier_source=IdentifierSource.TOKEN,
        identifier_field="authed_user.id",
    )
    response = log_in(client, campaign, token_body=fixture("slack-like")["token_response"])
    assert response.status_code == 303
    assert prefilled(client, campaign) == {}


def test_a_token_answer_without_the_named_field_identifies_nobody(client, account):
    campaign, _integration = make_sso_campaign(
        account,
        scope="read",
        identifier_source=IdentifierSource.TOKEN,
        identifier_field="athlete.id",
    )
    response = log_in(
        client, campaign, token_body={"access_token": "at", "token_type": "Bearer", "user": 5}
    )
    assert response.status_code == 502
    assert (attempt().failed_step, attempt().error_code) == ("profile", "subject_missing")
    assert not Participant.objects.exists()


# ---------------------------------------------------------------------------- JWT access token
def jwt_access_token_campaign(account):
    return make_sso_campaign(
        account,
        rules=[("firstname", "access_token.given_name", "", True)],
        scope="profile",
        identifier_source=IdentifierSource.ACCESS_TOKEN,
    )


def test_a_jwt_access_token_names_the_participant_when_rfc9068_holds(client, account, idp):
    campaign, _integration = jwt_access_token_campaign(account)
    access_token = idp.sign(idp.claims(sub="at-sub-9", given_name="Ada"), headers=AT_JWT)
    response = log_in(
        client,
        campaign,
        token_body={"access_token": access_token, "token_type": "Bearer"},
        idp=idp,
    )
    assert response.status_code == 303, attempt().error_code
    assert Participant.objects.get().subject == "at-sub-9"
    assert prefilled(client, campaign) == {"firstname": "Ada"}


@pytest.mark.parametrize(
    ("claims", "headers", "key", "code"),
    [
        ({"aud": "https://api.example.com"}, AT_JWT, None, "access_token_wrong_audience"),
        ({"iss": "https://evil.example.com"}, AT_JWT, None, "access_token_wrong_issuer"),
        ({}, {"typ": "JWT"}, None, "access_token_wrong_type"),
        ({}, AT_JWT, "attacker", "access_token_invalid_signature"),
    ],
)
def test_a_jwt_access_token_that_fails_rfc9068_names_nobody(
    client, account, idp, claims, headers, key, code
):
    campaign, _integration = jwt_access_token_campaign(account)
    access_token = idp.sign(
        idp.claims(given_name="Ada", **claims),
        headers=headers,
        key=rsa_key(key) if key else None,
    )
    response = log_in(
        client,
        campaign,
        token_body={"access_token": access_token, "token_type": "Bearer"},
        idp=idp,
    )
    assert response.status_code == 502
    assert (attempt().failed_step, attempt().error_code) == ("access_token", code)
    assert not Participant.objects.exists()


def test_an_opaque_access_token_cannot_name_the_participant(client, account, idp):
    campaign, _integration = jwt_access_token_campaign(account)
    response = log_in(
        client, campaign, token_body={"access_token": "opaque", "token_type": "Bearer"}
    )
    assert response.status_code == 502
    assert (attempt().failed_step, attempt().error_code) == ("access_token", "access_token_not_jwt")


# ---------------------------------------------------------------------------- id_token, profile
def test_another_claim_of_the_id_token_may_name_the_participant(client, account, idp):
    """Entra's `oid` is the same for every application; its `sub` is not."""
    campaign, _integration = make_sso_campaign(
        account, identifier_source=IdentifierSource.ID_TOKEN, identifier_field="oid"
    )
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"oid": "00000000-aaaa", "given_name": "Ada"})
        response = callback(client, started)
    assert response.status_code == 303
    assert Participant.objects.get().subject == "00000000-aaaa"


def test_a_field_path_of_the_profile_answer_may_name_the_participant(client, account):
    campaign, _integration = make_sso_campaign(
        account,
        rules=[("firstname", "userinfo.data.first", "", True)],
        scope="profile",
        profile_endpoint=USERINFO_URL,
        identifier_source=IdentifierSource.USERINFO,
        identifier_field="data.uuid",
    )
    response = log_in(
        client,
        campaign,
        token_body={"access_token": "at", "token_type": "Bearer"},
        userinfo={"id": 1, "data": {"uuid": "u-77", "first": "Ada"}},
    )
    assert response.status_code == 303
    assert Participant.objects.get().subject == "u-77"


# ---------------------------------------------------------------------------- no keys
def test_the_seven_fields_log_in_with_an_id_token_checked_without_keys(client, account, idp):
    """No issuer, no JWKS URI: the id_token from the token endpoint over TLS is accepted with
    its audience, expiry and nonce checked (OIDC Core §3.1.3.7), and no key is fetched."""
    campaign, integration = make_sso_campaign(account, issuer="", jwks_uri="")
    unpublished = rsa_key("unpublished")

    def token(started):
        claims = idp.claims(nonce=started.nonce, given_name="Ada", iss="https://x.example.com")
        return {
            "access_token": "at",
            "token_type": "Bearer",
            "id_token": idp.sign(claims, key=unpublished),
        }

    response = log_in(client, campaign, token_body=token)
    assert response.status_code == 303, attempt().error_code
    participant = Participant.objects.get()
    assert (participant.issuer_key, participant.subject) == (
        f"integration:{integration.pk}",
        "user-123",
    )


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"aud": "another-client"}, "id_token_wrong_audience"),
        ({"nonce": "a-replayed-nonce"}, "id_token_nonce_mismatch"),
        ({"exp": 1}, "id_token_expired"),
    ],
)
def test_without_keys_a_wrong_id_token_is_still_refused(client, account, idp, claims, code):
    campaign, _integration = make_sso_campaign(account, issuer="", jwks_uri="")

    def token(started):
        claims_ = {"nonce": started.nonce, "aud": CLIENT_ID, **claims}
        return {
            "access_token": "at",
            "token_type": "Bearer",
            "id_token": idp.sign(idp.claims(**claims_)),
        }

    response = log_in(client, campaign, token_body=token)
    assert response.status_code in (400, 502)
    assert (attempt().failed_step, attempt().error_code) == ("id_token", code)
    assert attempt().outcome == AttemptOutcome.FAILED
    assert not Participant.objects.exists()


def test_without_keys_an_unsigned_id_token_is_refused(client, account, idp):
    campaign, _integration = make_sso_campaign(account, issuer="", jwks_uri="")

    def token(started):
        unsigned = jwt.encode(idp.claims(nonce=started.nonce), None, algorithm="none")
        return {"access_token": "at", "token_type": "Bearer", "id_token": unsigned}

    response = log_in(client, campaign, token_body=token)
    assert response.status_code == 502
    assert (attempt().failed_step, attempt().error_code) == ("id_token", "id_token_unsupported_alg")
    assert not Participant.objects.exists()
