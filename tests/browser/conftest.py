"""Real-browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Fixtures:

- `browser` (session): headless Chromium from the PATH (`apt-get install chromium`; a browser is
  never downloaded), with third-party cookies blocked, as Safari, Firefox and Chrome with
  tracking protection have them (`--test-third-party-cookie-phaseout`; the embedding tests prove
  it is in force). Missing Chromium skips these tests locally and fails them when CI=true.
- `browser_locale` ("en-GB"): the browser's language; override it with
  `@pytest.mark.parametrize("browser_locale", ["fr-FR"])`.
- `browser_viewport` (1280×900): override it with `MOBILE_VIEWPORT` the same way.
- `context` / `page`: a fresh browser context (own cookies) and page per test. When the test
  ends, the page's end state is saved as `test-artifacts/screenshots/<test-name>.png`.
- `live_server` (pytest-django, session): the site on http://127.0.0.1:<port> (`--liveserver`
  in pyproject.toml); tests using it get `transactional_db`, so the server sees their data.
- `screenshot(name)`: saves the page now as `<test-name>--<name>.png`, for a step worth seeing
  besides the end state (e.g. the prefilled form before it is submitted); `screenshot(name,
  popup)` saves another page of the test (a pop-up window).
- `admin_login(page, user)`: logs a user in through the admin's login form.
- `webhook_receiver`: the demo's receiver (demo/webhook_receiver.py) on a free loopback port,
  checking signatures with `webhook_receiver.secret`; point a WebhookEndpoint at `.url` and
  `wait_for_event("profile.updated")`.
- `embed_host`: a customer's site (demo/embed_host.py) on http://localhost:<port>, another site
  than the product's; put pages in `embed_host.pages` ({path: HTML}), e.g. `host_page(snippet=
  campaign_embed_code(...))`. `second_embed_host` is another origin, on another port.
- `other_site`: a second loopback origin (http://localhost:<port>) with a consent-like page whose
  button sends the browser back to a URL of ours through a cross-site 302, as the IdP does to
  /oauth/callback.
- `idp`: the development IdP (tests/devidp_server.py, one process per session) as the browser
  and the product reach it: http://localhost:<port>, another *site* than the live server on
  127.0.0.1, so its redirect back to /oauth/callback is a real cross-site navigation (the one
  the session cookie's SameSite=Lax must survive). `idp.log_in(page, "alice")` fills its login
  form; the consent page's "Allow" / "Cancel" buttons are the test's to press.
- `demo`: the `make run` demo data (demo/management/commands/seed_demo.py: account, staff,
  admin and editor, the "Demo IdP" integration on `idp`, its mapping, the live "Summer contest"
  in English and French), with the IdP client registered for the demo integration's own
  callback URL, `<live_server.url>/oauth/callback/<key>`
  and PUBLIC_BASE_URL = live_server.url.

Chromium is a separate process, so the loopback-only socket guard of tests/conftest.py does not
apply to it; it only ever opens the 127.0.0.1/localhost URLs these tests give it.
"""

import base64
import html
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.devidp_server import DevIdP, devidp  # noqa: F401  (the session-scoped IdP fixture)
from tests.local_server import QuietHandler, serving

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    # Third-party cookies blocked, whatever this build's default: embedded campaigns must work
    # without them (tests/browser/test_embedded_journeys.py proves the blocking is in force).
    "--test-third-party-cookie-phaseout",
]
# Bounded waits: a step that takes longer than this is a failure, not a hang.
ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 20_000
DESKTOP_VIEWPORT = {"width": 1280, "height": 900}
# A small phone: participant pages are designed for it first.
MOBILE_VIEWPORT = {"width": 375, "height": 740}


def pytest_collection_modifyitems(items):
    browser_dir = Path(__file__).parent
    for item in items:
        if browser_dir in item.path.parents:
            item.add_marker(pytest.mark.browser)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = (
            "Chromium is not installed: `apt-get install -y chromium` (Debian's package; "
            "Playwright's own browser download is never used)."
        )
        if _in_ci():
            pytest.fail(message + " CI must run the browser tests (.ci/run installs it).")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path, django_db_setup):
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # While Playwright's loop runs, asgiref gives this thread *other* Django connection objects
    # (context-local instead of thread-local), which lack the snapshot of the migrated database
    # that serialized rollback restores (see `_restore_migration_data`): carry it over.
    snapshots = {
        alias: connections[alias]._test_serialized_contents
        for alias in connections
        if hasattr(connections[alias], "_test_serialized_contents")
    }
    # Playwright's sync API keeps an asyncio loop running in this thread; Django would then refuse
    # ORM calls from test bodies ("cannot call this from an async context"). They are not async
    # code, so allow it while the browser is up, and only then.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        for alias, snapshot in snapshots.items():
            connections[alias]._test_serialized_contents = snapshot
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS, timeout=30_000
        )
        yield chromium
        chromium.close()
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _restore_migration_data(django_db_serialized_rollback):
    """Live-server tests are transactional: the database is emptied after each one, rows made by
    data migrations included (the Platform staff group). Serialized rollback restores them."""


@pytest.fixture
def browser_locale() -> str:
    return "en-GB"


@pytest.fixture
def browser_viewport() -> dict:
    return DESKTOP_VIEWPORT


@pytest.fixture
def context(browser, browser_locale, browser_viewport):
    context = browser.new_context(
        locale=browser_locale,
        viewport=browser_viewport,
        extra_http_headers={"Accept-Language": browser_locale},
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    yield context
    context.close()


def _screenshot_name(node_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", node_name).strip("-") + ".png"


@pytest.fixture
def page(context, request):
    page = context.new_page()
    yield page
    # The end state of every test, passed or failed, for people to look at (CI artefacts).
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(
            path=str(SCREENSHOT_DIR / _screenshot_name(request.node.name)),
            full_page=True,
            timeout=ACTION_TIMEOUT_MS,
        )
    except Exception as error:  # a missing screenshot must not hide the test's own result
        print(f"screenshot of {request.node.name} failed: {error}")


@pytest.fixture
def screenshot(page, request):
    def save(name: str, target=None) -> None:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOT_DIR / _screenshot_name(request.node.name).replace(
            ".png", f"--{_screenshot_name(name)}"
        )
        (target or page).screenshot(path=str(path), full_page=True, timeout=ACTION_TIMEOUT_MS)

    return save


@pytest.fixture
def admin_login(live_server, password):
    """Log `user` in through the admin login form, as a person would."""

    def login(page, user, *, user_password=None):
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(user_password or password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/admin/")

    return login


@pytest.fixture
def webhook_receiver(tmp_path):
    from demo.webhook_receiver import receiver_running

    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with receiver_running(secret=secret, log_file=tmp_path / "webhook-events.jsonl") as server:
        server.secret = secret
        yield server


class _OtherSiteHandler(QuietHandler):
    """GET /consent?to=URL: a page with an "Allow" button that POSTs to /redirect?to=URL, which
    answers 302 to URL; the way an IdP's consent page sends the participant back."""

    def _target(self) -> str | None:
        target = parse_qs(urlsplit(self.path).query).get("to", [""])[0]
        # Only to loopback: this helper must not become an open redirect to the internet.
        return target if urlsplit(target).hostname in ("127.0.0.1", "localhost") else None

    def do_GET(self):
        target = self._target()
        if target is None or not self.path.startswith("/consent"):
            self.send_error(400)
            return
        action = html.escape("/redirect?" + urlencode({"to": target}))
        body = (
            "<!doctype html><title>Other site</title>"
            f'<form method="post" action="{action}"><button>Allow</button></form>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        target = self._target()
        if target is None or not self.path.startswith("/redirect"):
            self.send_error(400)
            return
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()


class OtherSite:
    """Another site for the browser: http://localhost:<port> is cross-site to 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.url = f"http://localhost:{port}"

    def consent_url(self, target: str) -> str:
        """A page whose "Allow" button sends the browser to `target` via a cross-site 302.

        Reach it by a click, not `page.goto(target)`: a typed address has no initiating site,
        so Chromium would treat it as same-site and even Strict cookies would be sent."""
        return f"{self.url}/consent?{urlencode({'to': target})}"


@pytest.fixture(scope="session")
def other_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtherSiteHandler)
    with serving(server):
        yield OtherSite(server.server_address[1])


@pytest.fixture(scope="session")
def _embed_hosts():
    from demo.embed_host import host_running

    with host_running() as first, host_running() as second:
        yield first, second


@pytest.fixture
def embed_host(_embed_hosts):
    yield _embed_hosts[0]
    _embed_hosts[0].pages.clear()  # each test serves its own pages


@pytest.fixture
def second_embed_host(_embed_hosts):
    yield _embed_hosts[1]
    _embed_hosts[1].pages.clear()


# ---------------------------------------------------------------------------- the IdP and the demo
JOURNEY_CLIENT_ID = "browser-journeys"
JOURNEY_CLIENT_SECRET = "browser journeys: + / = % é"


@dataclass
class BrowserIdP:
    """The development IdP under its `localhost` name: another site than 127.0.0.1."""

    url: str
    devidp: DevIdP

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def password(self) -> str:
        return self.devidp.password

    def register_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.devidp.add_client(client_id, client_secret, redirect_uri, pkce_required=True)

    def log_in(self, page, username: str) -> None:
        """On the IdP's login page (the browser was sent there): log in, wait for the consent."""
        page.wait_for_url(f"{self.url}/**")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(self.password)
        page.get_by_role("button", name="Log in").click()
        page.locator("#consent-form").wait_for()


@pytest.fixture
def idp(devidp) -> BrowserIdP:  # noqa: F811 - the fixture imported above
    return BrowserIdP(url=devidp.base_url.replace("//127.0.0.1:", "//localhost:"), devidp=devidp)


@dataclass
class Demo:
    account: object
    users: dict
    integration: object
    campaign: object
    site: str

    def url(self, path: str) -> str:
        return self.site + path


@pytest.fixture
def demo(live_server, idp, settings, monkeypatch) -> Demo:
    from demo.management.commands import seed_demo

    settings.PUBLIC_BASE_URL = live_server.url
    # As `make run` does: the demo integration's own callback URL, registered at the IdP.
    callback_key = "browser-journey-callback-key"
    callback = f"{live_server.url}/oauth/callback/{callback_key}"
    idp.register_client(JOURNEY_CLIENT_ID, JOURNEY_CLIENT_SECRET, callback)
    monkeypatch.setenv("DEVIDP_CALLBACK_KEY", callback_key)
    monkeypatch.setenv("DEVIDP_CLIENT_ID", JOURNEY_CLIENT_ID)
    monkeypatch.setenv("DEVIDP_CLIENT_SECRET", JOURNEY_CLIENT_SECRET)

    def refuse(note: str) -> None:
        pytest.fail(f"seeding the demo failed: {note}")

    account, users = seed_demo.seed_accounts()
    integration = seed_demo.seed_integration(account=account, idp_url=idp.url, note=refuse)
    seed_demo.seed_mapping(integration=integration, user=users["staff"], note=refuse)
    campaign = seed_demo.seed_campaign(account=account, integration=integration)
    return Demo(
        account=account,
        users=users,
        integration=integration,
        campaign=campaign,
        site=live_server.url,
    )
