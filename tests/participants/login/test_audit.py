"""Gaps found by the security-checklist audit (docs/security-coverage.md), as specs.

Each test names the checklist row it covers. HTTP is answered with `responses`; nothing of
ours is patched.
"""

import logging
import re

import pytest
from django.conf import settings as django_settings
from django.db import models
from django.test import Client
from django.urls import reverse

from participants.login.state import BROWSER_COOKIE, return_to_safe
from participants.models import AttemptOutcome, LoginAttempt, Participant
from tests.ops.settings_module import reload_settings
from tests.participants.conftest import form_url
from tests.participants.login.sso_flow import (
    CALLBACK,
    JWKS_URL,
    TOKEN_URL,
    USERINFO_URL,
    callback,
    callback_path,
    idp_answers,
    login_start,
    mock,
)

_HIDDEN_INPUT = re.compile(r"<input type=\"hidden\"[^>]*>")

SECRET = "s3cr3t:with+odd/chars=%"  # the factory's client secret


def the_attempt() -> LoginAttempt:
    return LoginAttempt.objects.get()


# ---------------------------------------------------------------------------- OF: callback
def test_tampering_with_an_error_response_from_another_issuer_is_not_trusted(client, campaign):
    """OF-13 / OF-17, RFC 9207 §2.4: an error answer is not assumed to come from our IdP."""
    started = login_start(client, campaign)
    with mock() as rsps:
        response = client.get(
            callback_path(started),
            {"error": "access_denied", "state": started.state, "iss": "https://evil.example.com"},
        )
        assert len(rsps.calls) == 0
    assert response.status_code == 400
    assert "cancelled" not in response.text
    assert (the_attempt().failed_step, the_attempt().error_code) == ("authorize", "iss_mismatch")


def test_tampering_with_parameters_error_without_state_gets_the_generic_page(client, campaign):
    """OF-17: an error answer without state is not trusted as coming from any IdP."""
    login_start(client, campaign)
    response = client.get(CALLBACK, {"error": "access_denied"})
    assert response.status_code == 400
    assert "cancelled" not in response.text
    assert the_attempt().outcome == AttemptOutcome.PENDING


def test_state_delivered_to_a_browser_with_another_binding_cookie_is_refused(client, campaign, idp):
    """OF-07: the victim's browser has its own binding cookie, not the attacker's."""
    started = login_start(client, campaign)  # the attacker's browser
    victim = Client()
    victim.cookies[BROWSER_COOKIE] = "v" * 43
    with mock() as rsps:
        idp_answers(rsps, idp, started)
        response = callback(victim, started)
        assert len(rsps.calls) == 0
    assert response.status_code == 400
    assert the_attempt().error_code == "state_other_browser"
    assert not Participant.objects.exists()
    assert "sso_prefill" not in str(dict(victim.session))


# ---------------------------------------------------------------------------- HH-05
def test_spoofed_host_header_on_login_start_is_rejected(client, campaign):
    """HH-05: ALLOWED_HOSTS refuses a Host we do not serve; no attempt is started."""
    url = reverse("participants:login_start", args=[campaign.slug])
    response = client.get(url, HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    assert not LoginAttempt.objects.exists()


@pytest.mark.parametrize(
    "next_value",
    [
        "/\t/evil.com",
        "/\n/evil.com",
        " //evil.com",
        "\\\\evil.com",
        "/\\/evil.com",
        "https:/evil.com",
        "JaVaScRiPt:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "///evil.com",
        "http://testserver@evil.com/",
    ],
)
def test_more_open_redirect_next_values_are_refused(next_value):
    """HH-05 / RFC 9700 §4.11.1: browser-normalised variants of `//evil.com`."""
    assert return_to_safe(next_value, default="/form/") == "/form/"


# ---------------------------------------------------------------------------- HH-02, HH-04
def test_production_settings_give_secure_httponly_lax_cookies_and_a_referrer_policy():
    """HH-02 / HH-04: what DEBUG off makes of the cookie and header settings."""
    production = reload_settings(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="k" * 60)
    assert production.DEBUG is False
    assert production.SESSION_COOKIE_SECURE is True
    assert production.SESSION_COOKIE_HTTPONLY is True
    assert production.SESSION_COOKIE_SAMESITE == "Lax"  # Strict would drop it on the IdP redirect
    assert production.CSRF_COOKIE_SECURE is True
    assert production.SECURE_REFERRER_POLICY in ("no-referrer", "same-origin")


def test_session_cookie_set_by_the_callback_is_secure_httponly_and_lax(
    client, campaign, idp, settings
):
    """HH-02: the cookie that carries the logged-in session, with production cookie settings."""
    settings.DEBUG = False
    settings.SESSION_COOKIE_SECURE = True
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        response = callback(client, started)
    assert response.status_code == 303
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"


def test_an_attacker_planted_session_id_gains_nothing(client, campaign, idp):
    """HH-04 (session fixation): the attacker's copy of the pre-login session id stays empty."""
    attacker = Client()
    attacker.get(reverse("participants:landing", args=[campaign.slug]))
    session = attacker.session
    session["planted"] = True
    session.save()
    planted = session.session_key
    # The victim's browser is made to use the attacker's session id.
    client.cookies[django_settings.SESSION_COOKIE_NAME] = planted
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada", "family_name": "Lovelace"})
        assert callback(client, started).status_code == 303
    assert client.session.session_key != planted
    assert 'value="Ada"' in client.get(form_url(campaign)).text
    attacker.cookies[django_settings.SESSION_COOKIE_NAME] = planted
    page = attacker.get(form_url(campaign))
    # Without the hidden inputs' random tokens, where "Ada" turns up once in a thousand pages.
    shown = _HIDDEN_INPUT.sub("", page.text)
    assert 'type="hidden"' not in shown
    assert "Ada" not in shown and "Lovelace" not in shown


def test_failure_page_loads_nothing_third_party(client, campaign):
    """HH-04 / RFC 9700 §4.2.4: the page after the callback loads no third-party content."""
    started = login_start(client, campaign)
    response = client.get(
        callback_path(started), {"error": "access_denied", "state": started.state}
    )
    assert response["Referrer-Policy"] == "no-referrer"
    assert "Content-Security-Policy" in response
    for marker in ('src="http', "src='http", 'src="//', 'href="http', 'href="//'):
        assert marker not in response.text


# ---------------------------------------------------------------------------- IT
def test_id_token_replayed_from_an_earlier_finished_login_is_refused(client, campaign, idp):
    """IT-10: the nonce of a finished transaction does not open a new one."""
    first = login_start(client, campaign)
    old_token = idp.sign(idp.claims(nonce=first.nonce, given_name="Ada"))
    body = {"access_token": "at", "token_type": "Bearer", "id_token": old_token}
    with mock() as rsps:
        idp_answers(rsps, idp, first, token_body=body)
        assert callback(client, first).status_code == 303
    second = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, second, token_body=body)
        response = callback(client, second)
    assert response.status_code == 502
    latest = LoginAttempt.objects.order_by("-pk").first()
    assert (latest.failed_step, latest.error_code) == ("id_token", "id_token_nonce_mismatch")


def test_jwks_with_only_unsupported_key_types_refuses_the_login(client, campaign, idp):
    """IT-13: keys we cannot use are skipped; with none left the token is not accepted."""
    started = login_start(client, campaign)
    token = idp.sign(idp.claims(nonce=started.nonce, given_name="Ada"))
    jwks = {
        "keys": [
            {"kty": "oct", "kid": "key-1", "k": "c2VjcmV0"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "key-1", "x": "11qYAYKxCrfVS_7TyWQHOg"},
            {"kty": "unknown-type", "kid": "key-1"},
        ]
    }
    with mock() as rsps:
        rsps.post(TOKEN_URL, json={"access_token": "at", "token_type": "Bearer", "id_token": token})
        rsps.get(JWKS_URL, json=jwks)
        response = callback(client, started)
    assert response.status_code == 502
    assert the_attempt().error_code == "id_token_unknown_key"
    assert not Participant.objects.exists()


# ---------------------------------------------------------------------------- UI
def test_rest_profile_with_an_overlong_id_refuses_the_login(client, integration, campaign):
    """IT-09 / OIDC Core §2 for profiles without id_token: an id over 255 chars is no identity."""
    integration.scope = "profile"
    integration.profile_endpoint = USERINFO_URL
    integration.save()
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, json={"access_token": "at", "token_type": "Bearer"})
        rsps.get(USERINFO_URL, json={"id": "x" * 256, "given_name": "Ada"})
        response = callback(client, started)
    assert response.status_code == 502
    assert (the_attempt().failed_step, the_attempt().error_code) == ("profile", "subject_missing")


def test_token_answer_with_a_huge_extra_member_ends_cleanly(client, campaign, idp):
    """TE-05 / TE-09: an oversized token answer is refused, the participant gets a page."""
    started = login_start(client, campaign)
    body = {
        "access_token": "at",
        "token_type": "Bearer",
        "id_token": idp.sign(idp.claims(nonce=started.nonce, given_name="Ada")),
        "padding": "x" * (1024 * 1024),
    }
    with mock() as rsps:
        idp_answers(rsps, idp, started, token_body=body)
        response = callback(client, started)
    assert response.status_code in (502, 503)
    assert (the_attempt().failed_step, the_attempt().error_code) == ("token", "token_too_large")


# ---------------------------------------------------------------------------- SE-07 / RF-07
CREDENTIALS = {
    "code": "authorization-code-9f8e7d",
    "access_token": "access-token-1a2b3c",
    "refresh_token": "refresh-token-4d5e6f",
}


def _login(client, campaign, idp, *, claims, userinfo=None):
    started = login_start(client, campaign)
    id_token = idp.sign(idp.claims(**{"nonce": started.nonce, **claims}))
    body = {
        "access_token": CREDENTIALS["access_token"],
        "refresh_token": CREDENTIALS["refresh_token"],
        "token_type": "Bearer",
        "id_token": id_token,
    }
    with mock() as rsps:
        idp_answers(rsps, idp, started, token_body=body)
        if userinfo is not None:
            rsps.get(USERINFO_URL, **userinfo)
        response = callback(client, started, code=CREDENTIALS["code"])
    return started, id_token, response


def _attempt_text() -> str:
    values = []
    for row in LoginAttempt.objects.all():
        for field in LoginAttempt._meta.concrete_fields:
            if not isinstance(field, models.ForeignKey):
                values.append(str(getattr(row, field.attname)))
    return "\n".join(values)


def test_logs_and_activity_log_never_hold_the_code_tokens_or_the_secret(
    client, integration, campaign, idp, caplog
):
    """SE-07 / RF-07 / ASVS 16.2.5 across a successful login and three failed ones."""
    integration.profile_endpoint = USERINFO_URL
    integration.save()
    caplog.set_level(logging.DEBUG)
    secrets_seen = [SECRET, *CREDENTIALS.values()]

    logins = [
        # Success, with a userinfo answer.
        _login(
            client,
            campaign,
            idp,
            claims={"given_name": "Ada"},
            userinfo={"json": {"sub": "user-123", "given_name": "Ada"}},
        ),
        # Fails at the id_token (nonce).
        _login(client, campaign, idp, claims={"nonce": "wrong", "given_name": "Ada"}),
        # Fails at the mapping (required value missing), userinfo down.
        _login(client, campaign, idp, claims={}, userinfo={"status": 500}),
        # Userinfo with another sub (a security event that is logged).
        _login(
            client,
            campaign,
            idp,
            claims={"given_name": "Ada"},
            userinfo={"json": {"sub": "someone-else"}},
        ),
    ]
    assert [response.status_code for _s, _t, response in logins] == [303, 502, 422, 303]
    for started, id_token, _response in logins:
        secrets_seen += [id_token, started.state]

    activity = _attempt_text()
    for value in secrets_seen:
        assert value not in caplog.text
        assert value not in activity
    # The nonce is kept on the (used, single-use) attempt by design: it is what the id_token is
    # checked against. It is never logged.
    for started, _t, _r in logins:
        assert started.nonce not in caplog.text


def test_hostile_claims_are_prefilled_as_inert_text(client, campaign, idp):
    """UI-05: markup is escaped, oversized and wrongly typed values never break the form."""
    started = login_start(client, campaign)
    claims = {
        "given_name": "<script>alert(1)</script>",
        "family_name": "L" * 100_000,
        "email": ["a@example.com", "b@example.com"],
        "address": {"street_address": None},
    }
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims=claims)
        response = callback(client, started)
    assert response.status_code == 303
    page = client.get(form_url(campaign))
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "L" * 100_000 not in page.text
