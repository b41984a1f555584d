"""The seed command (through the fixture's add_client) and the IdP's own pages."""

import pytest
import requests

from tests.devidp.flows import TIMEOUT, authorization_url, callback_params, token_request
from tests.devidp_server import DevIdPError

pytestmark = pytest.mark.e2e

REDIRECT_URI = "https://sso.example.test/oauth/callback"


def exchange_status(devidp, client_id, client_secret):
    location = devidp.login_and_authorize(
        authorization_url(devidp, client_id, REDIRECT_URI), "bob", devidp.password
    )
    return token_request(
        devidp,
        code=callback_params(location)["code"],
        redirect_uri=REDIRECT_URI,
        client_id=client_id,
        client_secret=client_secret,
    ).status_code


def test_seeding_a_client_again_resets_its_secret(devidp):
    devidp.add_client("reseeded", "first-secret", REDIRECT_URI, pkce_required=False)
    devidp.add_client("reseeded", "second-secret", REDIRECT_URI, pkce_required=False)

    assert exchange_status(devidp, "reseeded", "first-secret") == 401
    assert exchange_status(devidp, "reseeded", "second-secret") == 200


def test_seeding_a_client_again_can_turn_pkce_off(devidp):
    devidp.add_client("toggled", "secret", REDIRECT_URI, pkce_required=True)
    devidp.add_client("toggled", "secret", REDIRECT_URI, pkce_required=False)

    assert exchange_status(devidp, "toggled", "secret") == 200


def test_registering_a_client_with_an_invalid_redirect_uri_fails(devidp):
    with pytest.raises(DevIdPError, match="redirect_uris"):
        devidp.add_client("broken", "secret", "ftp://127.0.0.1/cb", pkce_required=False)


def test_seed_command_registers_a_client(devidp):
    output = devidp.manage(
        "devidp_seed",
        "--skip-participants",
        "--client-id",
        "pkce-seeded",
        "--client-secret",
        "seeded-secret",
        "--redirect-uri",
        REDIRECT_URI,
        "--base-url",
        devidp.base_url,
    )

    assert f"discovery  {devidp.discovery_url}" in output
    assert f"client pkce-seeded: redirect URI {REDIRECT_URI}, RS256, PKCE required" in output
    assert "seeded-secret" not in output
    location = devidp.login_and_authorize(
        authorization_url(devidp, "pkce-seeded", REDIRECT_URI), "bob", devidp.password
    )
    assert callback_params(location)["error"] == "invalid_request"  # no code_challenge


def test_seed_command_refuses_an_invalid_redirect_uri(devidp):
    with pytest.raises(DevIdPError, match="Invalid client"):
        devidp.manage(
            "devidp_seed",
            "--skip-participants",
            "--client-id",
            "broken",
            "--client-secret",
            "secret",
            "--redirect-uri",
            "ftp://127.0.0.1/cb",
        )


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_client_registration_endpoint_wants_the_admin_token(devidp, token):
    response = requests.post(
        f"{devidp.base_url}/devidp/clients/",
        json={
            "client_id": "intruder",
            "client_secret": "secret",
            "redirect_uris": [REDIRECT_URI],
            "pkce_required": False,
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=TIMEOUT,
    )

    assert response.status_code == 401


def test_home_page_shows_the_issuer_and_the_demo_logins(devidp):
    page = requests.get(devidp.base_url + "/", timeout=TIMEOUT)

    assert page.status_code == 200
    assert devidp.discovery_url in page.text
    assert devidp.password in page.text
    for username in devidp.usernames:
        assert f"<td>{username}</td>" in page.text


@pytest.mark.parametrize("path", ["/", "/accounts/login/"])
def test_no_page_shows_a_template_comment(devidp, path):
    page = requests.get(devidp.base_url + path, timeout=TIMEOUT)
    assert "{#" not in page.text and "#}" not in page.text and "{% comment" not in page.text


def test_login_page_labels_its_fields(devidp):
    page = requests.get(devidp.base_url + "/accounts/login/", timeout=TIMEOUT)

    assert page.status_code == 200
    assert '<label for="id_username">' in page.text
    assert '<label for="id_password">' in page.text
    assert 'autocomplete="current-password"' in page.text


def test_its_pages_leave_a_login_popup_its_opener(devidp):
    """An embedded campaign logs in through a pop-up whose opener (the campaign's frame) must
    survive the visit here: Cross-Origin-Opener-Policy same-origin would cut it off."""
    for path in ("/accounts/login/", "/o/authorize/"):
        page = requests.get(devidp.base_url + path, timeout=TIMEOUT, allow_redirects=False)
        assert page.headers["Cross-Origin-Opener-Policy"] == "unsafe-none", path


def test_login_form_accepts_a_post_with_the_origin_a_browser_sends(devidp):
    """Under `no-referrer` browsers send `Origin: null` with form posts, which CSRF refuses:
    the pages keep the referrer to the IdP itself, so the browser sends the IdP's origin."""
    session = requests.Session()
    page = session.get(devidp.base_url + "/accounts/login/", timeout=TIMEOUT)
    assert 'name="referrer" content="same-origin"' in page.text
    token = page.text.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]

    response = session.post(
        devidp.base_url + "/accounts/login/",
        data={"csrfmiddlewaretoken": token, "username": "alice", "password": devidp.password},
        headers={"Origin": devidp.base_url},
        allow_redirects=False,
        timeout=TIMEOUT,
    )

    assert response.status_code == 302
