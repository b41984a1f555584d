"""Login start and the callback's happy path (OF-01…OF-04, OF-10, HH-02, HH-04, HH-05)."""

import base64
import hashlib
import logging
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from django.urls import reverse

from integrations.oauth.client import pkce_challenge
from participants.login.state import BROWSER_COOKIE
from participants.models import AttemptOutcome, LoginAttempt, Participant
from participants.prefill import prefill_get
from tests.participants.conftest import form_url
from tests.participants.login.sso_flow import (
    TOKEN_URL,
    callback,
    idp_answers,
    login_start,
    make_sso_campaign,
    mock,
)


def sha256_hex(value: str) -> str:
    """What a database leak would show of a secret kept hashed (SHA-256, hex)."""
    return hashlib.sha256(value.encode()).hexdigest()


# ---------------------------------------------------------------------------- login start
def test_login_start_sends_exactly_the_authorization_request_parameters(
    client, integration, campaign
):
    integration.use_pkce = True
    integration.save()
    started = login_start(client, campaign)
    location = started.response["Location"]
    assert location.startswith("https://idp.example.com/authorize?")
    assert set(started.params) == {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
    }
    assert started.params["response_type"] == "code"
    assert started.params["client_id"] == "campaign-sso-client"
    # The integration's own redirect URI: its path names the integration (RFC 9700 §4.4).
    key = campaign.oauth_integration.callback_key
    assert started.params["redirect_uri"] == f"https://sso.example.test/oauth/callback/{key}"
    assert started.params["scope"] == "openid email profile"
    assert started.params["code_challenge_method"] == "S256"
    attempt = LoginAttempt.objects.get()
    assert pkce_challenge(attempt.code_verifier) == started.params["code_challenge"]
    assert attempt.code_verifier not in location
    assert "s3cr3t" not in location


def test_state_and_nonce_are_long_random_and_state_is_stored_hashed(client, campaign):
    first = login_start(client, campaign)
    second = login_start(client, campaign)
    assert len(base64.urlsafe_b64decode(first.state + "==")) >= 16
    assert first.state != second.state and first.nonce != second.nonce
    hashes = set(LoginAttempt.objects.values_list("state_hash", flat=True))
    assert hashes == {sha256_hex(first.state), sha256_hex(second.state)}
    assert not LoginAttempt.objects.filter(state_hash=first.state).exists()


def test_no_nonce_without_openid_and_no_pkce_when_off(client, integration, campaign):
    integration.scope = "profile"
    integration.save()
    started = login_start(client, campaign)
    assert "nonce" not in started.params and "code_challenge" not in started.params


def test_login_start_snapshots_the_configuration_and_binds_the_browser(client, campaign, settings):
    settings.SESSION_COOKIE_SECURE = True  # as in production
    started = login_start(client, campaign)
    attempt = LoginAttempt.objects.get()
    assert attempt.snapshot["token_endpoint"] == TOKEN_URL
    assert attempt.snapshot["issuer"] == "https://idp.example.com"
    assert "client_secret" not in attempt.snapshot
    cookie = started.response.cookies[BROWSER_COOKIE]
    assert attempt.browser_hash == sha256_hex(cookie.value)
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert cookie["secure"]
    assert started.response["Referrer-Policy"] == "no-referrer"
    assert (attempt.expires_at - attempt.created_at) <= timedelta(seconds=601)


def test_a_second_login_in_the_same_browser_reuses_the_binding_cookie(client, campaign):
    login_start(client, campaign)
    second = login_start(client, campaign)
    assert BROWSER_COOKIE not in second.response.cookies
    assert LoginAttempt.objects.values("browser_hash").distinct().count() == 1


def test_login_start_with_a_disabled_integration_is_unavailable(client, integration, campaign):
    integration.enabled = False
    integration.save()
    response = client.get(reverse("participants:login_start", args=[campaign.slug]))
    assert response.status_code == 503
    assert not LoginAttempt.objects.exists()


def test_login_start_for_an_unknown_campaign_is_404(client, db):
    assert client.get(reverse("participants:login_start", args=["nope"])).status_code == 404


def test_login_start_query_count(client, campaign, django_assert_max_num_queries):
    url = reverse("participants:login_start", args=[campaign.slug])
    with django_assert_max_num_queries(4):
        assert client.get(url).status_code == 302


@pytest.mark.parametrize(
    "next_value",
    ["//evil.com", "https://evil.com", "/\\evil.com", "javascript:alert(1)", "%2F%2Fevil.com"],
)
def test_open_redirect_next_values_are_replaced_by_the_form(client, campaign, next_value):
    login_start(client, campaign, next=next_value)
    assert LoginAttempt.objects.get().return_to == form_url(campaign)


def test_a_same_origin_next_path_is_kept(client, campaign):
    login_start(client, campaign, next=f"/c/{campaign.slug}/form/?step=2")
    assert LoginAttempt.objects.get().return_to == f"/c/{campaign.slug}/form/?step=2"


def test_redirect_uri_comes_from_the_setting_not_the_host_header(client, campaign, settings):
    settings.ALLOWED_HOSTS = ["testserver", "evil.example.com"]
    url = reverse("participants:login_start", args=[campaign.slug])
    response = client.get(url, HTTP_HOST="evil.example.com")
    started = parse_qs(response["Location"].split("?", 1)[1])
    key = campaign.oauth_integration.callback_key
    assert started["redirect_uri"] == [f"https://sso.example.test/oauth/callback/{key}"]


# ---------------------------------------------------------------------------- success
def test_successful_login_prefills_the_form_and_records_the_participant(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        token = idp_answers(
            rsps, idp, started, claims={"given_name": "Ada", "family_name": "Lovelace"}
        )
        session_before = client.session.session_key
        response = callback(client, started)
    assert response.status_code == 303
    assert response["Location"] == form_url(campaign)
    assert response["Referrer-Policy"] == "no-referrer"
    assert token.call_count == 1
    participant = Participant.objects.get()
    assert (participant.issuer_key, participant.subject) == ("https://idp.example.com", "user-123")
    assert participant.last_login_at is not None
    attempt = LoginAttempt.objects.get()
    assert attempt.outcome == AttemptOutcome.SUCCESS and attempt.participant == participant
    assert attempt.idp_duration_ms is not None and attempt.code_verifier == ""
    assert client.session.session_key != session_before

    page = client.get(form_url(campaign))
    assert 'value="Ada"' in page.text and 'value="Lovelace"' in page.text


def test_a_returning_participant_is_the_same_one_with_the_login_time_updated(client, campaign, idp):
    def log_in():
        started = login_start(client, campaign)
        with mock() as rsps:
            idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
            assert callback(client, started).status_code == 303

    log_in()
    first = Participant.objects.get()
    log_in()
    again = Participant.objects.get()
    assert again.pk == first.pk
    assert again.created_at == first.created_at
    assert again.last_login_at > first.last_login_at
    attempts = LoginAttempt.objects.order_by("pk")
    assert [attempt.participant_id for attempt in attempts] == [first.pk, first.pk]
    assert prefill_get(_request_with(client.session), campaign).participant_id == first.pk


def _request_with(session):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = session
    return request


def test_session_key_is_cycled_after_login(client, campaign, idp):
    client.get(reverse("participants:landing", args=[campaign.slug]))
    session = client.session
    session["planted"] = True
    session.save()
    planted = session.session_key
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        callback(client, started)
    assert client.session.session_key != planted
    assert client.session["planted"] is True


def test_token_request_sends_credentials_in_the_body_with_post(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        token = idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        callback(client, started)
    request = token.calls[0].request
    body = parse_qs(request.body.decode())
    assert body["grant_type"] == ["authorization_code"]
    assert body["code"] == ["the-code"]
    # Byte for byte the redirect URI of the authorization request (RFC 6749 §4.1.3).
    assert body["redirect_uri"] == [started.params["redirect_uri"]]
    assert body["client_id"] == ["campaign-sso-client"]
    assert body["client_secret"] == ["s3cr3t:with+odd/chars=%"]
    assert "Authorization" not in request.headers


def test_token_request_with_basic_and_pkce(client, integration, campaign, idp):
    integration.client_auth_method = "client_secret_basic"
    integration.use_pkce = True
    integration.save()
    started = login_start(client, campaign)
    verifier = LoginAttempt.objects.get().code_verifier
    with mock() as rsps:
        token = idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        assert callback(client, started).status_code == 303
    request = token.calls[0].request
    body = parse_qs(request.body.decode())
    assert "client_secret" not in body and "client_id" not in body
    assert body["code_verifier"] == [verifier]
    expected = base64.b64encode(b"campaign-sso-client:s3cr3t%3Awith%2Bodd%2Fchars%3D%25")
    assert request.headers["Authorization"] == "Basic " + expected.decode()


def test_two_tabs_complete_in_reverse_order(client, account, idp):
    first_campaign, _ = make_sso_campaign(account)
    second_campaign = type(first_campaign).objects.get(pk=first_campaign.pk)
    second_campaign.pk = None
    second_campaign.slug = "second"
    second_campaign.save()
    first = login_start(client, first_campaign)
    second = login_start(client, second_campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, second, claims={"given_name": "Ada"})
        assert callback(client, second)["Location"] == form_url(second_campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, first, claims={"given_name": "Ada"})
        assert callback(client, first)["Location"] == form_url(first_campaign)


def test_return_to_step_is_honoured(client, campaign, idp):
    started = login_start(client, campaign, next=f"/c/{campaign.slug}/form/?from=sso")
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        assert callback(client, started)["Location"] == f"/c/{campaign.slug}/form/?from=sso"


def test_participant_is_identified_by_issuer_and_sub_never_email(client, campaign, idp):
    for sub in ("user-1", "user-2"):
        started = login_start(client, campaign)
        with mock() as rsps:
            claims = {"sub": sub, "given_name": "A", "email": "same@example.com"}
            idp_answers(rsps, idp, started, claims=claims)
            assert callback(client, started).status_code == 303
    assert Participant.objects.count() == 2
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"sub": "user-1", "given_name": "A"})
        callback(client, started)
    assert Participant.objects.count() == 2


def test_callback_query_count(client, campaign, idp, django_assert_max_num_queries):
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        with django_assert_max_num_queries(20):
            assert callback(client, started).status_code == 303


def test_prefill_is_kept_server_side(client, campaign, idp, rf):
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        callback(client, started)
    request = rf.get("/")
    request.session = client.session
    prefill = prefill_get(request, campaign)
    assert prefill.values["firstname"] == "Ada"
    assert prefill.integration_name == "Example ID"


def test_form_page_after_login_sends_a_referrer_policy(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        location = callback(client, started)["Location"]
    assert client.get(location)["Referrer-Policy"] in ("no-referrer", "same-origin")


def test_a_successful_login_logs_no_code_token_or_secret(client, campaign, idp, caplog):
    caplog.set_level(logging.DEBUG)
    started = login_start(client, campaign)
    id_token = idp.sign(idp.claims(nonce=started.nonce, given_name="Ada"))
    body = {"access_token": "opaque-access-token", "token_type": "Bearer", "id_token": id_token}
    with mock() as rsps:
        idp_answers(rsps, idp, started, token_body=body)
        assert callback(client, started).status_code == 303
    assert "sso login succeeded" in caplog.text
    for secret in ("the-code", "opaque-access-token", "s3cr3t", started.state, started.nonce):
        assert secret not in caplog.text
    assert id_token not in caplog.text


def test_a_session_planted_before_the_login_is_replaced(client, campaign, idp):
    planted = client.session
    planted["visited"] = True
    planted.save()
    client.cookies["sessionid"] = planted.session_key
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        assert callback(client, started).status_code == 303
    assert client.cookies["sessionid"].value != planted.session_key
    assert client.session.session_key != planted.session_key


def test_a_new_browser_gets_one_session_at_the_login(client, campaign, idp):
    started = login_start(client, campaign)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        assert callback(client, started).status_code == 303
    assert prefill_get(_request_with(client.session), campaign) is not None


def _request_with(session):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = session
    return request


@pytest.mark.parametrize(("query", "page_language"), [({"lang": "fr"}, "fr"), ({}, "en")])
def test_a_login_link_opened_straight_in_french_comes_back_to_the_form_in_french(
    client, campaign, idp, query, page_language
):
    """A customer's site may link to the login with ?lang=fr: the participant has seen no page
    of ours yet, and their browser may not ask for French. The form after the login is in the
    language the link chose; without one, in the browser's (here none: English)."""
    started = login_start(client, campaign, **query)
    with mock() as rsps:
        idp_answers(rsps, idp, started, claims={"given_name": "Ada"})
        assert callback(client, started).status_code == 303
    page = client.get(form_url(campaign))
    assert page["Content-Language"] == page_language
    assert 'value="Ada"' in page.text


@pytest.mark.parametrize("lang", ["de", "xx", "fr-BE", ""])
def test_a_login_link_with_a_language_the_campaign_does_not_offer_keeps_no_language(
    client, campaign, lang, settings
):
    """?lang= the campaign does not offer is ignored, as on the pages: the login still starts,
    and no language cookie is set."""
    started = login_start(client, campaign, lang=lang)
    assert started.response.status_code == 302
    assert settings.LANGUAGE_COOKIE_NAME not in started.response.cookies
