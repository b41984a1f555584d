"""An embedded campaign in a real browser, as participants have it: inside a customer's page on
another site, with third-party cookies blocked.

The customer's page is served by demo/embed_host.py on http://localhost:<port> and pastes the
code the campaign's admin page gives; the product is on http://127.0.0.1:<port>: another site,
so the campaign runs in a third-party frame. Chromium blocks third-party cookies here (see
tests/browser/conftest.py; the first test proves it), so nothing in the frame may rest on one.
"""

import json
import re
import tempfile
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import expect

from campaigns.embed_code import campaign_embed_code
from demo.embed_host import host_page
from demo.management.commands import seed_demo
from participants.models import EmbedTicket, Participation
from tests.browser.conftest import ACTION_TIMEOUT_MS, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

FRAME = "#campaign-summer-contest"


@pytest.fixture
def shop(demo, embed_host):
    """The customer's page, embedding the demo campaign; its site may frame it (as `make run`
    sets it up)."""
    seed_demo.seed_embedding(account=demo.account, host_url=embed_host.url, note=pytest.fail)
    embed_host.pages["/"] = host_page(
        snippet=campaign_embed_code(demo.campaign, base_url=demo.site)
    )
    return f"{embed_host.url}/"


def campaign_frame(page, demo):
    """The Frame object of the embedded campaign, once its page has loaded."""
    page.frame_locator(FRAME).locator("main").wait_for()
    prefix = demo.url(f"/e/{demo.campaign.slug}/")
    frame = next((f for f in page.frames if f.url.startswith(prefix)), None)
    assert frame is not None, f"no frame at {prefix}: {[f.url for f in page.frames]}"
    return frame


def requests_to_the_product(page, demo) -> list:
    """Every request the page (the customer's, and the campaign's frame in it) makes to us."""
    seen = []
    page.on("request", lambda r: seen.append(r) if r.url.startswith(demo.site) else None)
    return seen


def log_in_at_the_idp(popup, idp, username="alice"):
    idp.log_in(popup, username)
    popup.get_by_role("button", name="Allow").click()


def post_ticket(frame, ticket: str) -> None:
    """Present a ticket the way the frame's own script does: its hidden form."""
    frame.evaluate(
        """ticket => {
            const form = document.querySelector("form[data-embed-redeem]");
            form.elements.ticket.value = ticket;
            form.submit();
        }""",
        ticket,
    )


# ---------------------------------------------------------------------------- the conditions
def _cookie_set_in_the_frame_comes_back(page, demo, shop) -> str | None:
    page.goto(shop)
    frame = campaign_frame(page, demo)
    frame.evaluate("document.cookie = 'probe=1; SameSite=None; Secure; Path=/'")
    with page.expect_request(lambda r: r.url.startswith(demo.url("/e/"))) as reloaded:
        frame.goto(frame.url)
    return reloaded.value.header_value("cookie")


def test_third_party_cookies_are_blocked_in_these_tests(page, demo, shop, chromium_path):
    assert _cookie_set_in_the_frame_comes_back(page, demo, shop) is None

    # The same cookie, in a browser that allows third-party cookies, does come back: the probe
    # works, and the blocking above is the browser's.
    with tempfile.TemporaryDirectory() as profile:
        (Path(profile) / "Default").mkdir()
        (Path(profile) / "Default" / "Preferences").write_text(
            json.dumps({"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}})
        )
        allowing = [arg for arg in CHROMIUM_ARGS if "third-party-cookie" not in arg]
        control = page.context.browser.browser_type.launch_persistent_context(
            profile, executable_path=chromium_path, headless=True, args=allowing
        )
        try:
            control.set_default_timeout(ACTION_TIMEOUT_MS)
            back = _cookie_set_in_the_frame_comes_back(control.new_page(), demo, shop)
        finally:
            control.close()
    assert back is not None and "probe=1" in back


# ---------------------------------------------------------------------------- the journeys
def test_a_participant_takes_part_in_the_embedded_campaign_logging_in_in_a_popup(
    page, demo, idp, shop, screenshot
):
    ours = requests_to_the_product(page, demo)
    page.goto(shop)
    frame = page.frame_locator(FRAME)
    expect(frame.get_by_role("heading", level=1)).to_have_text("Summer contest")
    # The customer's script gave the frame the campaign's height (not the code's 720px).
    page.wait_for_function(
        "sel => { const f = document.querySelector(sel); return f.style.height !== '720px'; }",
        arg=FRAME,
    )
    screenshot("1-embedded-landing")

    with page.expect_popup() as opened:
        frame.get_by_role("link", name="Log in with Demo IdP").click()
    popup = opened.value
    expect(frame.get_by_text("Log in in the window that opened")).to_be_visible()
    idp.log_in(popup, "alice")
    screenshot("2-popup-at-the-idp", popup)
    popup.get_by_role("button", name="Allow").click()
    popup.wait_for_event("close")

    expect(frame.get_by_text("We filled in what your Demo IdP account told us")).to_be_visible()
    expect(frame.get_by_label("First name")).to_have_value("Alice")
    expect(frame.get_by_label("First name")).to_be_disabled()
    expect(frame.get_by_label("E-mail address")).to_have_value("alice.martin@example.com")
    expect(frame.get_by_label("Date of birth")).to_have_count(0)
    screenshot("3-prefilled-form-in-the-frame")

    frame.get_by_label("City").fill("Namur")
    frame.get_by_role("button", name="Submit").click()
    expect(frame.get_by_role("heading", level=1)).to_have_text("Thank you for taking part!")
    screenshot("4-thank-you-in-the-frame")

    participation = Participation.objects.get(campaign=demo.campaign)
    assert participation.values["city"] == "Namur"
    assert participation.values["firstname"] == "Alice"
    assert participation.participant.subject
    assert participation.changed == ["city"]
    # Not one of the frame's requests carried a cookie: the pop-up's first-party cookies exist,
    # but the browser keeps them out of the third-party frame.
    framed = [r for r in ours if "/e/" in r.url]
    assert framed and all(r.header_value("cookie") is None for r in framed)
    # The frame takes the thank-you page's height too.
    height = campaign_frame(page, demo).evaluate(
        "Math.ceil(document.documentElement.getBoundingClientRect().height)"
    )
    page.wait_for_function(
        "([sel, h]) => document.querySelector(sel).style.height === h + 'px'", arg=[FRAME, height]
    )


def test_with_popups_blocked_the_participant_takes_part_in_a_new_tab(
    page, context, demo, idp, shop, screenshot
):
    # What a pop-up blocker makes of the frame's window.open().
    page.add_init_script("window.open = function () { return null; };")
    page.goto(shop)
    frame = page.frame_locator(FRAME)
    frame.get_by_role("link", name="Log in with Demo IdP").click()

    blocked = frame.get_by_role("alert")
    expect(blocked).to_contain_text("Your browser blocked the login window.")
    screenshot("1-popup-blocked")

    with context.expect_page() as opened:
        blocked.get_by_role("link", name="Open the campaign in a new tab").click()
    tab = opened.value
    tab.wait_for_url(demo.url(f"/c/{demo.campaign.slug}/?lang=en"))
    screenshot("2-campaign-in-a-new-tab", tab)
    tab.get_by_role("link", name="Log in with Demo IdP").click()
    log_in_at_the_idp(tab, idp)
    tab.wait_for_url(re.compile(re.escape(demo.url(f"/c/{demo.campaign.slug}/form/"))))
    expect(tab.get_by_label("First name")).to_have_value("Alice")
    screenshot("3-prefilled-in-the-tab", tab)
    tab.get_by_role("button", name="Submit").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Thank you for taking part!")
    screenshot("4-thank-you-in-the-tab", tab)
    assert Participation.objects.get(campaign=demo.campaign).values["firstname"] == "Alice"


def test_a_site_that_is_not_on_the_list_cannot_frame_the_campaign(
    page, demo, shop, second_embed_host, screenshot
):
    second_embed_host.pages["/"] = host_page(
        snippet=campaign_embed_code(demo.campaign, base_url=demo.site),
        heading="Someone else's site",
    )
    refusals = []
    page.on("console", lambda m: refusals.append(m.text) if "frame-ancestors" in m.text else None)
    with page.expect_response(lambda r: r.url.startswith(demo.url("/e/"))) as answered:
        page.goto(f"{second_embed_host.url}/")
    csp = answered.value.header_value("content-security-policy")
    # Only the shop's exact origin: the same host on another port is another origin.
    assert f"frame-ancestors {shop.rstrip('/')}" in csp
    assert second_embed_host.url not in csp

    expect(page.get_by_role("heading", name="Someone else's site")).to_be_visible()
    expect(page.frame_locator(FRAME).get_by_role("heading", name="Summer contest")).to_have_count(0)
    assert not any(f.url.startswith(demo.url("/e/")) for f in page.frames)
    assert refusals, "Chromium did not report the refused frame"
    screenshot("refused-frame")


def test_the_frame_ignores_a_ticket_that_does_not_come_from_its_own_popup(
    page, demo, shop, screenshot
):
    tried = []
    page.on("request", lambda r: tried.append(r.url) if "/ticket/" in r.url else None)
    page.goto(shop)
    frame = page.frame_locator(FRAME)
    frame.get_by_role("link", name="Log in with Demo IdP").wait_for()
    # The customer's page (another origin) sends a well-formed ticket message into the frame.
    page.evaluate(
        """sel => document.querySelector(sel).contentWindow.postMessage(
            {type: "campaign-sso:ticket", ticket: "A".repeat(43)}, "*")""",
        FRAME,
    )
    page.wait_for_timeout(1000)
    assert tried == []
    expect(frame.get_by_role("link", name="Log in with Demo IdP")).to_be_visible()
    screenshot("message-ignored")


def test_a_replayed_ticket_is_refused(page, demo, idp, shop, screenshot):
    tickets = []

    def note_ticket(route):
        tickets.append(parse_qs(route.request.post_data)["ticket"][0])
        route.continue_()

    page.route(re.compile(r".*/e/summer-contest/ticket/.*"), note_ticket)
    page.goto(shop)
    frame = page.frame_locator(FRAME)
    with page.expect_popup() as opened:
        frame.get_by_role("link", name="Log in with Demo IdP").click()
    log_in_at_the_idp(opened.value, idp)
    expect(frame.get_by_label("First name")).to_have_value("Alice")
    assert len(tickets) == 1

    # Someone at the same screen says "Not you?" and replays the ticket into the frame. Once the
    # page has loaded: a click while its stylesheet is still arriving can land where the button
    # was a moment before (seen under load: the click sent nothing).
    campaign_frame(page, demo).wait_for_load_state()
    frame.get_by_role("button", name="Not you?").click()
    expect(frame.get_by_role("link", name="Log in with Demo IdP")).to_be_visible()
    post_ticket(campaign_frame(page, demo), tickets[0])
    expect(frame.get_by_role("alert")).to_contain_text("We could not complete your login here")
    expect(frame.get_by_label("First name")).to_have_count(0)
    screenshot("replayed-ticket-refused")


def test_a_ticket_presented_by_another_frame_is_refused_and_then_useless(
    page, context, demo, idp, shop, screenshot
):
    # The frame's redemption is held back (204: the frame stays where it is).
    redemption = re.compile(r".*/e/summer-contest/ticket/.*")
    page.route(redemption, lambda route: route.fulfill(status=204))
    page.goto(shop)
    with page.expect_popup() as opened:
        page.frame_locator(FRAME).get_by_role("link", name="Log in with Demo IdP").click()
    with page.expect_request(redemption) as held:
        log_in_at_the_idp(opened.value, idp)
    ticket = parse_qs(held.value.post_data)["ticket"][0]

    # Another reader of the customer's page, another visit: the ticket is not theirs.
    other = context.new_page()
    other.goto(shop)
    other.frame_locator(FRAME).get_by_role("link", name="Log in with Demo IdP").wait_for()
    post_ticket(campaign_frame(other, demo), ticket)
    refused = other.frame_locator(FRAME).get_by_role("alert")
    expect(refused).to_contain_text("We could not complete your login here")
    screenshot("foreign-ticket-refused", other)

    # Presented elsewhere, it was burnt: its own frame cannot use it any more either.
    page.unroute(redemption)
    post_ticket(campaign_frame(page, demo), ticket)
    expect(page.frame_locator(FRAME).get_by_role("alert")).to_contain_text(
        "We could not complete your login here"
    )
    assert EmbedTicket.objects.get().used_at is not None
    assert not Participation.objects.exists()


def test_when_the_idp_cuts_the_popup_off_the_participant_goes_on_in_it(
    page, context, demo, idp, shop, screenshot
):
    # An IdP whose pages send Cross-Origin-Opener-Policy: same-origin (Django's default): the
    # pop-up loses the frame that opened it.
    def with_coop(route):
        response = route.fetch(max_redirects=0)
        headers = {**response.headers, "cross-origin-opener-policy": "same-origin"}
        route.fulfill(response=response, headers=headers)

    context.route(re.compile(re.escape(idp.url) + "/.*"), with_coop)
    page.goto(shop)
    with page.expect_popup() as opened:
        page.frame_locator(FRAME).get_by_role("link", name="Log in with Demo IdP").click()
    popup = opened.value
    log_in_at_the_idp(popup, idp)

    go_on = popup.get_by_role("button", name="Continue in this window")
    expect(go_on).to_be_visible()
    screenshot("1-popup-cut-off", popup)
    go_on.click()
    popup.wait_for_url(re.compile(re.escape(demo.url(f"/c/{demo.campaign.slug}/form/"))))
    expect(popup.get_by_label("First name")).to_have_value("Alice")
    popup.get_by_role("button", name="Submit").click()
    expect(popup.get_by_role("heading", level=1)).to_have_text("Thank you for taking part!")
    screenshot("2-thank-you-in-the-popup", popup)
    assert Participation.objects.get(campaign=demo.campaign).values["firstname"] == "Alice"
