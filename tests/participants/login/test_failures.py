"""Every failure class gives a page for people and a log entry (OF, TE, IT, UI, RF groups)."""

import logging
import re
from datetime import timedelta

import pytest
import requests
from django.test import Client
from django.utils import timezone
from django.utils.translation import override

from participants.models import AttemptOutcome, LoginAttempt, Participant
from tests.idp_stub import rsa_key
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

SECRET = "s3cr3t:with+odd/chars=%"


def attempt() -> LoginAttempt:
    return LoginAttempt.objects.get()


def assert_failed(response, status, *, step, code, title=None):
    assert response.status_code == status, response.status_code
    assert response["Referrer-Policy"] == "no-referrer"
    assert "Traceback" not in response.text
    row = attempt()
    assert row.outcome == AttemptOutcome.FAILED
    assert (row.failed_step, row.error_code) == (step, code)
    assert row.error_reference and row.error_reference in response.text
    if title:
        assert title in response.text
    assert not Participant.objects.exists()


def test_post_to_the_callback_is_405(client, db):
    assert client.post(CALLBACK, {"code": "x", "state": "y"}).status_code == 405


# ---------------------------------------------------------------------------- state (OF-05…09)
def test_callback_without_state_makes_no_token_call(client, campaign):
    login_start(client, campaign)
    with mock() as rsps:
        response = client.get(CALLBACK, {"code": "abc"})
        assert len(rsps.calls) == 0
    assert response.status_code == 400
    assert "log in again" in response.text
    assert attempt().outcome == AttemptOutcome.PENDING


def test_callback_with_unknown_state_makes_no_token_call(client, campaign):
    login_start(client, campaign)
    with mock() as rsps:
        response = client.get(CALLBACK, {"code": "abc", "state": "tampered"})
        assert len(rsps.calls) == 0
    assert response.status_code == 400


def test_state_from_another_browser_is_refused_and_burnt(client, campaign, idp):
    started = login_start(client, campaign)  # the attacker's browser
    victim = Client()
    with mock() as rsps:
        idp_answers(rsps, idp, started)
        response = callback(victim, started)
        assert len(rsps.calls) == 0
    assert_failed(response, 400, step="state", code="state_other_browser")
    assert "another browser" in response.text
    # The state is burnt: the attacker cannot use it either.
    assert callback(client, started).status_code == 400


def test_replayed_callback_is_refused_without_a_token_call(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        token = idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        assert callback(client, started).status_code == 303
        # The prefill is gone ("Not you?"): the spent state is an error again.
        client.post(f"/c/{campaign.slug}/not-you/")
        again = callback(client, started)
        assert token.call_count == 1
    assert again.status_code == 400
    assert "already been used" in again.text
    assert 'href="/c/sso-summer/login/?next=' in again.text
    assert attempt().outcome == AttemptOutcome.SUCCESS  # the first outcome is kept


def test_allowing_again_after_going_back_leads_to_the_prefilled_form(client, campaign, idp):
    # Logged in, the participant went back to the IdP's consent page and pressed Allow again.
    started = login_start(client, campaign)
    with mock() as rsps:
        token = idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        first = callback(client, started)
        again = callback(client, started, code="a-second-code")
        assert token.call_count == 1  # the second code is never used
    assert again.status_code == 303
    assert again["Location"] == first["Location"] == f"/c/{campaign.slug}/form/"
    assert 'value="Ada"' in client.get(again["Location"]).text


def test_allowing_again_in_another_browser_is_still_refused(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        callback(client, started)
        other = Client()
        other.cookies = client.cookies  # the state and even the browser cookie…
        del other.cookies["sessionid"]  # …but not the session holding the prefill
        again = callback(other, started)
    assert again.status_code == 400 and "already been used" in again.text


def test_expired_state_is_refused(client, campaign, idp):
    started = login_start(client, campaign)
    LoginAttempt.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with mock() as rsps:
        response = callback(client, started)
        assert len(rsps.calls) == 0
    assert_failed(response, 400, step="state", code="state_expired", title="took too long")


def test_the_attempt_is_marked_used_before_the_token_call(client, campaign, idp):
    started = login_start(client, campaign)
    seen = {}

    def token_answer(request):
        seen["used_at"] = LoginAttempt.objects.get().used_at
        return (503, {}, "")

    with mock() as rsps:
        rsps.add_callback("POST", TOKEN_URL, callback=token_answer)
        callback(client, started)
    assert seen["used_at"] is not None


@pytest.mark.parametrize(
    "query",
    [
        "code=a&code=b&state={state}",
        "code=a&state={state}&state={state}",
        "code=a&error=access_denied&state={state}",
    ],
)
def test_repeated_parameters_or_code_with_error_are_refused(client, campaign, query):
    started = login_start(client, campaign)
    with mock() as rsps:
        response = client.get(f"{callback_path(started)}?{query.format(state=started.state)}")
        assert len(rsps.calls) == 0
    assert response.status_code == 400
    assert attempt().used_at is None


# ---------------------------------------------------------------------------- IdP errors
def test_access_denied_says_sign_in_was_cancelled(client, campaign):
    started = login_start(client, campaign)
    with mock() as rsps:
        response = client.get(
            callback_path(started),
            {
                "error": "access_denied",
                "error_description": "<script>alert('x')</script> User said no",
                "state": started.state,
            },
        )
        assert len(rsps.calls) == 0
    assert_failed(response, 400, step="authorize", code="idp_access_denied")
    assert "Sign-in was cancelled" in response.text
    assert "alert" not in response.text and "User said no" not in response.text
    assert "Try again" in response.text
    assert "Continue without logging in" in response.text


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("server_error", 503),
        ("temporarily_unavailable", 503),
        ("login_required", 503),
        ("invalid_scope", 502),
        ("unauthorized_client", 502),
        ("something_new", 502),
        ("<b>évil</b>", 502),
    ],
)
def test_other_idp_errors_are_classified(client, campaign, error, status):
    started = login_start(client, campaign)
    response = client.get(callback_path(started), {"error": error, "state": started.state})
    code = error if error.isidentifier() else "invalid"
    assert_failed(response, status, step="authorize", code=f"idp_{code}")
    assert error not in response.text


def test_error_with_a_bad_state_gets_the_generic_page(client, campaign):
    login_start(client, campaign)
    response = client.get(CALLBACK, {"error": "access_denied", "state": "forged"})
    assert response.status_code == 400
    assert "cancelled" not in response.text
    assert attempt().outcome == AttemptOutcome.PENDING


def test_required_sso_offers_no_manual_form(client, campaign):
    campaign.sso_mode = "required"
    campaign.save()
    started = login_start(client, campaign)
    response = client.get(
        callback_path(started), {"error": "access_denied", "state": started.state}
    )
    assert "Continue without logging in" not in response.text
    assert "Try again" in response.text


# ---------------------------------------------------------------------------- RFC 9207 iss
@pytest.mark.parametrize(
    "iss", ["https://evil.example.com", "https://idp.example.com/", "HTTPS://IDP.EXAMPLE.COM"]
)
def test_iss_parameter_that_differs_is_refused_before_the_token_call(client, campaign, idp, iss):
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started)
        response = callback(client, started, iss=iss)
        assert len(rsps.calls) == 0
    assert_failed(response, 400, step="authorize", code="iss_mismatch")


def test_iss_parameter_equal_to_the_issuer_is_accepted(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        assert callback(client, started, iss="https://idp.example.com").status_code == 303


def test_missing_iss_is_refused_when_the_idp_is_known_to_send_it(client, integration, campaign):
    integration.iss_parameter_supported = True
    integration.save()
    started = login_start(client, campaign)
    with mock() as rsps:
        response = callback(client, started)
        assert len(rsps.calls) == 0
    assert_failed(response, 400, step="authorize", code="iss_missing")


def test_mixup_query_parameters_never_choose_the_idp(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        token = idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        response = callback(client, started, idp="other", tenant="B", integration="999")
        assert token.call_count == 1
    assert response.status_code == 303


# ---------------------------------------------------------------------------- token endpoint
def test_token_read_timeout_is_not_retried(client, campaign):
    started = login_start(client, campaign)
    with mock() as rsps:
        token = rsps.post(TOKEN_URL, body=requests.exceptions.ReadTimeout())
        response = callback(client, started)
        assert token.call_count == 1
    assert_failed(response, 504, step="token", code="token_timeout", title="did not answer in time")


def test_token_connection_failure(client, campaign):
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, body=requests.exceptions.ConnectionError())
        response = callback(client, started)
    assert response.status_code == 503
    assert attempt().failed_step == "token"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_token_5xx_is_a_retryable_page_without_retry(client, campaign, status):
    started = login_start(client, campaign)
    with mock() as rsps:
        token = rsps.post(TOKEN_URL, status=status, headers={"Retry-After": "120"}, body="down")
        response = callback(client, started)
        assert token.call_count == 1
    assert_failed(response, 503, step="token", code="token_http")
    assert "Try again" in response.text


def test_invalid_grant_says_sign_in_expired(client, campaign):
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
        response = callback(client, started)
    assert_failed(response, 400, step="token", code="invalid_grant", title="Your sign-in expired")


def test_invalid_client_is_a_generic_page_and_the_secret_stays_out_of_logs(
    client, campaign, caplog
):
    started = login_start(client, campaign)
    caplog.set_level(logging.DEBUG)
    with mock() as rsps:
        rsps.post(
            TOKEN_URL,
            status=401,
            json={"error": "invalid_client", "error_description": f"bad secret {SECRET}"},
        )
        response = callback(client, started)
    assert_failed(response, 502, step="token", code="invalid_client")
    assert SECRET not in caplog.text and "the-code" not in caplog.text
    assert SECRET not in response.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><body>Oops</body></html>", "text/html"),
        ("not json", "text/plain"),
        ("[1, 2]", "application/json"),
    ],
)
def test_token_answer_that_is_not_a_json_object(client, campaign, body, content_type):
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, body=body, content_type=content_type)
        response = callback(client, started)
    assert_failed(response, 502, step="token", code="token_invalid_json")
    assert "Oops" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"token_type": "Bearer", "expires_in": 300},
        {"access_token": "at", "token_type": "MAC"},
        {"access_token": "at"},
    ],
)
def test_token_answer_without_access_token_or_bearer_type(client, campaign, integration, body):
    # The access token is sent on to the profile endpoint, so it must be a Bearer token.
    integration.profile_endpoint = USERINFO_URL
    integration.save()
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, json=body)
        response = callback(client, started)
    assert_failed(response, 502, step="token", code="token_invalid_response")


def test_a_token_type_we_never_use_is_no_reason_to_refuse_the_login(
    client, campaign, integration, idp
):
    """Slack answers token_type "bot"; without a profile endpoint the access token is never
    sent anywhere (RFC 6749 §7.1 forbids using a token of an unknown type, not receiving it)."""
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(
            rsps,
            idp,
            started,
            token_body={
                "access_token": "xoxb-1",
                "token_type": "bot",
                "id_token": idp.sign(idp.claims(nonce=started.nonce, given_name="Ada")),
            },
        )
        response = callback(client, started)
    assert response.status_code == 303
    assert LoginAttempt.objects.get().outcome == AttemptOutcome.SUCCESS


# ---------------------------------------------------------------------------- id_token
def _token_with(idp, id_token):
    return {"access_token": "at", "token_type": "Bearer", "id_token": id_token}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"iss": "https://evil.example.com"}, "id_token_wrong_issuer"),
        ({"aud": "someone-else"}, "id_token_wrong_audience"),
        ({"aud": ["campaign-sso-client", "untrusted"]}, "id_token_wrong_audience"),
        ({"azp": "someone-else"}, "id_token_wrong_audience"),
        ({"nonce": "not-the-one"}, "id_token_nonce_mismatch"),
    ],
)
def test_id_token_claim_problems_refuse_the_login(client, campaign, idp, overrides, code):
    started = login_start(client, campaign)
    claims = idp.claims(nonce=started.nonce, given_name="Ada")
    claims.update(overrides)
    with mock() as rsps:
        idp_answers(rsps, idp, started, token_body=_token_with(idp, idp.sign(claims)))
        response = callback(client, started)
    assert_failed(response, 502, step="id_token", code=code, title="could not verify")


def test_id_token_without_nonce_is_refused(client, campaign, idp):
    started = login_start(client, campaign)
    claims = idp.claims(given_name="Ada")
    with mock() as rsps:
        idp_answers(rsps, idp, started, token_body=_token_with(idp, idp.sign(claims)))
        response = callback(client, started)
    assert_failed(response, 502, step="id_token", code="id_token_nonce_mismatch")


def test_id_token_signed_by_another_key_is_refused(client, campaign, idp):
    started = login_start(client, campaign)
    forged = idp.sign(idp.claims(nonce=started.nonce), key=rsa_key("attacker"))
    with mock() as rsps:
        idp_answers(rsps, idp, started, token_body=_token_with(idp, forged))
        response = callback(client, started)
    assert_failed(response, 502, step="id_token", code="id_token_invalid_signature")


def test_missing_id_token_when_openid_was_asked_is_refused(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, json={"access_token": "at", "token_type": "Bearer"})
        response = callback(client, started)
    assert_failed(response, 502, step="id_token", code="id_token_missing")


def test_jwks_down_gives_a_retryable_page(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, json=_token_with(idp, idp.id_token(nonce=started.nonce)))
        rsps.get(JWKS_URL, status=503)
        response = callback(client, started)
    assert_failed(response, 503, step="id_token", code="jwks_unavailable")


def test_unknown_kid_refetches_once_then_fails(client, campaign, idp):
    started = login_start(client, campaign)
    token = idp.sign(idp.claims(nonce=started.nonce), kid="rotated-away")
    with mock() as rsps:
        rsps.post(TOKEN_URL, json=_token_with(idp, token))
        jwks = rsps.get(JWKS_URL, json=idp.jwks())
        response = callback(client, started)
        # First fetch (cold cache) starts the cooldown: no hammering on a made-up kid.
        assert jwks.call_count == 1
    assert_failed(response, 502, step="id_token", code="id_token_unknown_key")


# ---------------------------------------------------------------------------- userinfo
def test_userinfo_with_another_sub_is_discarded(client, integration, campaign, idp, caplog):
    integration.profile_endpoint = USERINFO_URL
    integration.save()
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(
            rsps,
            idp,
            started,
            claims={"given_name": "Ada"},
            userinfo={"sub": "someone-else", "given_name": "Mallory", "family_name": "M"},
        )
        response = callback(client, started)
    assert response.status_code == 303
    page = client.get(response["Location"])
    assert "Mallory" not in page.text and 'value="Ada"' in page.text
    assert "sub differs" in caplog.text
    assert attempt().outcome == AttemptOutcome.SUCCESS
    assert attempt().warning_code == "userinfo_sub_mismatch"


def test_userinfo_is_called_with_a_bearer_header(client, integration, campaign, idp):
    integration.profile_endpoint = USERINFO_URL
    integration.save()
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, userinfo={"sub": "user-123", "given_name": "Grace"})
        assert callback(client, started).status_code == 303
        call = next(c for c in rsps.calls if c.request.url.startswith(USERINFO_URL))
    assert call.request.headers["Authorization"] == "Bearer opaque-access-token"
    assert "opaque-access-token" not in call.request.url


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 500},
        {"status": 401, "headers": {"WWW-Authenticate": 'Bearer error="invalid_token"'}},
        {"body": "<html>not json</html>", "content_type": "text/html"},
        {"body": requests.exceptions.ReadTimeout()},
        {"body": "eyJhbGciOiJSUzI1NiJ9.e30.sig", "content_type": "application/jwt"},
    ],
)
def test_userinfo_failure_continues_with_the_id_token(client, integration, campaign, idp, answer):
    integration.profile_endpoint = USERINFO_URL
    integration.save()
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        userinfo = rsps.get(USERINFO_URL, **answer)
        response = callback(client, started)
        assert userinfo.call_count == 1  # no retry loop
    assert response.status_code == 303
    assert 'value="Ada"' in client.get(response["Location"]).text
    # The activity log says the profile came from the id_token alone (counted per integration).
    row = attempt()
    assert row.outcome == AttemptOutcome.SUCCESS
    assert row.warning_code.startswith("userinfo_") and row.error_code == ""


def test_userinfo_failure_without_id_token_fails_the_login(client, integration, campaign):
    integration.scope = "profile"
    integration.profile_endpoint = USERINFO_URL
    integration.save()
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, json={"access_token": "at", "token_type": "Bearer"})
        rsps.get(USERINFO_URL, status=500)
        response = callback(client, started)
    assert_failed(response, 502, step="userinfo", code="userinfo_failed")


# ---------------------------------------------------------------------------- mapping
def test_missing_required_value_lists_what_the_idp_did_not_give(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"family_name": "Lovelace"})
        response = callback(client, started)
    assert_failed(response, 422, step="mapping", code="required_missing")
    assert "<li>First name</li>" in response.text
    assert "Fill in the form yourself" in response.text


def test_failure_pages_speak_french(client, campaign):
    url = f"/c/{campaign.slug}/login/?lang=fr"
    location = client.get(url)["Location"]
    state = location.split("state=")[1].split("&")[0]
    with override("fr"):
        response = client.get(
            f"/oauth/callback/{campaign.oauth_integration.callback_key}",
            {"error": "access_denied", "state": state},
        )
    assert "Connexion annulée" in response.text


# ---------------------------------------------------------------------------- RF-05
def test_integration_disabled_while_at_the_idp_fails_cleanly(client, integration, campaign, idp):
    started = login_start(client, campaign)
    integration.enabled = False
    integration.save()
    with mock() as rsps:
        idp_answers(rsps, idp, started)
        response = callback(client, started)
        assert len(rsps.calls) == 0
    assert_failed(response, 503, step="token", code="integration_unavailable")
    assert "Continue without logging in" in response.text


def test_integration_deleted_while_at_the_idp_fails_cleanly(client, integration, campaign, idp):
    started = login_start(client, campaign)
    integration.delete()
    response = callback(client, started)
    assert response.status_code == 503


def test_endpoints_changed_mid_flow_use_the_snapshot_and_the_current_secret(
    client, integration, campaign, idp
):
    started = login_start(client, campaign)
    integration.token_endpoint = "https://elsewhere.example.com/token"
    integration.client_secret = "rotated-secret"
    integration.save()
    with mock() as rsps:
        token = idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        assert callback(client, started).status_code == 303
    assert "client_secret=rotated-secret" in token.calls[0].request.body.decode()


def test_undecryptable_secret_fails_cleanly(client, integration, campaign, idp, settings):
    started = login_start(client, campaign)
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    with mock() as rsps:
        response = callback(client, started)
        assert len(rsps.calls) == 0
    assert response.status_code == 503
    assert "gAAAA" not in response.text


def test_the_error_reference_is_in_the_page_the_log_and_the_attempt(client, campaign, caplog):
    started = login_start(client, campaign)
    response = client.get(callback_path(started), {"error": "server_error", "state": started.state})
    reference = attempt().error_reference
    assert len(reference) == 8
    assert reference in response.text
    assert f"ref={reference}" in caplog.text and "step=authorize" in caplog.text


def test_login_start_and_callback_are_rate_limited(client, campaign, settings):
    settings.RATE_LIMITS = {"login": {"ip": "2/m", "campaign": "100/m"}}
    login_start(client, campaign)
    response = client.get(CALLBACK, {"code": "x", "state": "y"})
    assert response.status_code == 400
    assert client.get(CALLBACK, {"code": "x", "state": "y"}).status_code == 429
    assert client.get(f"/c/{campaign.slug}/login/").status_code == 429


# ---------------------------------------------------------------------------- the page itself
def _invalid_client(client, campaign):
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
        return callback(client, started)


def _buttons(response) -> list[tuple[str, str]]:
    """(class, text) of the page's action buttons, in order."""
    return re.findall(r'<a class="button (button--\w+)" href="[^"]*">([^<]+)</a>', response.text)


def test_when_the_settings_must_change_try_again_is_not_the_main_button(client, campaign):
    response = _invalid_client(client, campaign)
    assert _buttons(response) == [
        ("button--primary", "Continue without logging in"),
        ("button--secondary", "Try again"),
    ]


def test_when_retrying_may_work_it_stays_the_main_button(client, campaign):
    started = login_start(client, campaign)
    with mock() as rsps:
        rsps.post(TOKEN_URL, status=503)
        response = callback(client, started)
    assert _buttons(response)[0] == ("button--primary", "Try again")


def test_the_failure_page_switches_language_without_replaying_the_callback(client, campaign):
    response = _invalid_client(client, campaign)
    links = dict(re.findall(r'<a href="([^"]+)" lang="(\w+)"', response.text))
    french = next(url for url, code in links.items() if code == "fr").replace("&amp;", "&")
    assert french.startswith("/sso/problem/?")
    reference = re.search(r"Error reference: (\w+)", response.text).group(1)
    attempts = LoginAttempt.objects.count()

    page = client.get(french)

    assert page.status_code == 502
    assert "La connexion n’est pas possible pour le moment" in page.text
    assert reference in page.text
    assert f'href="/c/{campaign.slug}/form/"' in page.text  # the way on, in French too
    assert LoginAttempt.objects.count() == attempts  # it showed, it did nothing


@pytest.mark.parametrize(
    "query",
    [
        {"kind": "nonsense", "ref": "<script>"},
        {"kind": "access_denied", "c": "no-such-campaign", "next": "https://evil.example/"},
        {"kind": "mapping_incomplete", "m": "<b>x</b>"},
    ],
)
def test_the_problem_page_shows_only_what_it_knows(client, db, query):
    page = client.get("/sso/problem/", query)
    assert page.status_code in (400, 422)
    assert "<script>" not in page.text and "evil.example" not in page.text
    assert "<b>x</b>" not in page.text
    assert 'hreflang="fr"' in page.text  # every language, without a campaign
