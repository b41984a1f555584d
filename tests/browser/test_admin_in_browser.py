"""The admin and the public error page in a real browser: what people see, and the cookies."""

import pytest

from tests.factories import CampaignFactory

pytestmark = pytest.mark.browser


def _cookie(context, name):
    return next(cookie for cookie in context.cookies() if cookie["name"] == name)


def test_administrator_sees_only_their_own_accounts_campaigns(
    page, live_server, admin_login, admin_user_a, account, other_account
):
    CampaignFactory(account=account, title="Alpha spring quiz")
    hidden = CampaignFactory(account=other_account, title="Beta secret launch")

    admin_login(page, admin_user_a)
    page.locator("tr.model-campaign th a").click()

    page.wait_for_url(f"{live_server.url}/admin/campaigns/campaign/")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "Alpha spring quiz" in rows.first.inner_text()
    assert "Beta secret launch" not in page.content()
    # No account filter for a customer user; among accounts, their own only (its privacy
    # policy and retention), never another's.
    assert "account" not in page.locator("#changelist-filter").inner_text().lower()
    page.goto(f"{live_server.url}/admin/accounts/account/")
    names = page.locator("#result_list tbody tr th").all_inner_texts()
    assert names == ["Account A"]

    # Guessing the other account's URL leads nowhere either.
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{hidden.pk}/change/")
    assert "Beta secret launch" not in page.content()
    assert page.url.endswith("/admin/")
    # The same answer as for an id that was never used: nothing tells it exists elsewhere.
    assert f"ID “{hidden.pk}” doesn’t exist" in page.locator(".messagelist").inner_text()


def test_staff_sees_every_account(
    page, live_server, admin_login, staff_user, account, other_account
):
    admin_login(page, staff_user)
    page.locator("tr.model-account th a").click()

    page.wait_for_url(f"{live_server.url}/admin/accounts/account/")
    names = page.locator("#result_list tbody tr th").all_inner_texts()
    assert names == ["Account A", "Account B"]


def test_unknown_campaign_shows_the_public_not_found_page(page, live_server, transactional_db):
    response = page.goto(f"{live_server.url}/c/no-such-campaign/")

    assert response.status == 404
    text = page.locator("body").inner_text()
    assert "not found" in text.lower()
    # A public page: no debug page, no traceback, no list of URL patterns.
    assert "Traceback" not in text and "URLconf" not in text


def test_session_cookie_is_httponly_and_samesite_lax(page, admin_login, admin_user_a):
    admin_login(page, admin_user_a)

    session = _cookie(page.context, "sessionid")
    assert session["sameSite"] == "Lax"
    assert session["httpOnly"] is True
    assert _cookie(page.context, "csrftoken")["sameSite"] == "Lax"


@pytest.mark.parametrize(
    ("samesite", "still_logged_in"), [("Lax", True), ("Strict", False)], ids=["Lax", "Strict"]
)
def test_session_survives_a_cross_site_redirect_back_only_with_lax(
    page, live_server, admin_login, admin_user_a, other_site, settings, samesite, still_logged_in
):
    """What the IdP's redirect back to /oauth/callback does: another site sends the browser here.

    Django's test client ignores SameSite; only a browser shows that Strict would lose the
    session on the way back (SECURITY-CHECKLIST HH-02, HH-03)."""
    settings.SESSION_COOKIE_SAMESITE = samesite
    admin_login(page, admin_user_a)

    page.goto(other_site.consent_url(f"{live_server.url}/admin/"))
    page.get_by_role("button", name="Allow").click()

    if still_logged_in:
        page.wait_for_url(f"{live_server.url}/admin/")
        assert page.locator("tr.model-campaign").count() == 1
    else:
        page.wait_for_url(f"{live_server.url}/admin/login/?next=/admin/")
