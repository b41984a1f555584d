"""Customer administrators and platform staff in the admin, in a real browser.

(c) an Administrator connects an IdP: the OAuth 2.0 integration form, the callback URL copied to
the clipboard, Test connection and Test login against the development IdP; (d) staff upload
mapping tables on the mapping page, a good one and a broken one.
"""

import re

import pytest
from playwright.sync_api import expect

from integrations.mapping.store import mapping_table_import
from integrations.models import OAuthIntegration
from tests.browser.conftest import REPO_ROOT

pytestmark = pytest.mark.browser

MAPPING_TABLES = REPO_ROOT / "tests" / "fixtures" / "mapping-tables"
DEMO_MAPPING = REPO_ROOT / "demo" / "devidp-mapping.csv"
CLIENT_ID = "acme-campaigns"
CLIENT_SECRET = "acme secret: + / = % é"


def test_administrator_connects_an_idp_tests_the_connection_and_a_login(
    page, live_server, settings, admin_login, admin_user_a, staff_user, idp, screenshot
):
    settings.PUBLIC_BASE_URL = live_server.url
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    admin_login(page, admin_user_a)

    page.get_by_role("link", name="OAuth 2.0 integrations").first.click()
    page.get_by_role("link", name=re.compile("Add OAuth 2.0 integration", re.I)).click()
    page.wait_for_url(f"{live_server.url}/admin/integrations/oauthintegration/add/**")

    # The callback URL to register at the IdP: this integration's own, shown read-only with a
    # copy button before the form is saved (the IdP hands out the client ID after it).
    callback = page.locator("#oauth-callback-url")
    own_url = re.compile(re.escape(f"{live_server.url}/oauth/callback/") + r"[A-Za-z0-9_-]{22}$")
    expect(callback).to_have_text(own_url)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert own_url.match(copied)
    # …which the administrator registers at their IdP, with a confidential client.
    idp.register_client(CLIENT_ID, CLIENT_SECRET, copied)

    page.get_by_label("Display name").fill("Acme ID")
    page.get_by_label("Import from discovery URL").fill(idp.discovery_url)
    page.get_by_label("Client ID").fill(CLIENT_ID)
    page.get_by_label(re.compile(r"^Client secret:?$")).fill(CLIENT_SECRET)
    page.get_by_label("Client secret sent as basic auth").check()
    page.get_by_label("Token scope").fill("openid profile email phone address")
    page.get_by_label("Use PKCE").check()
    screenshot("form")
    page.get_by_role("button", name="Save and continue editing").click()

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    integration = OAuthIntegration.objects.get(display_name="Acme ID")
    # Saved with the very URL the page showed and the IdP registered.
    assert copied.endswith(f"/oauth/callback/{integration.callback_key}")
    # The discovery import filled the endpoints in.
    assert integration.token_endpoint == f"{idp.issuer}/token/"
    assert integration.issuer == idp.issuer
    expect(page.get_by_label("Token endpoint")).to_have_value(f"{idp.issuer}/token/")

    page.get_by_role("button", name="Test connection").click()
    messages = page.locator(".messagelist")
    expect(messages).to_contain_text("Acme ID: Connection test passed.")
    expect(messages).to_contain_text("accepted the client credentials")
    expect(page.locator(".field-last_test_status")).to_contain_text("Passed")
    screenshot("connection-tested")

    # Staff upload the customer's mapping table, as the page says they do.
    mapping_table_import(
        integration=integration,
        user=staff_user,
        filename=DEMO_MAPPING.name,
        data=DEMO_MAPPING.read_bytes(),
    )

    page.get_by_role("link", name="Test login").click()
    idp.log_in(page, "alice")
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(re.compile(re.escape(f"{live_server.url}/sso/test-login/result/")))
    expect(page.get_by_text("The login worked.")).to_be_visible()
    mapped = page.locator("#test-login-mapping")
    expect(mapped.locator("tr", has_text="firstname")).to_contain_text("Alice")
    expect(mapped.locator("tr", has_text="country")).to_contain_text("BE")
    expect(mapped.locator("tr", has_text="phone")).to_contain_text("+32470123456")
    profile = page.locator("pre.test-login-profile")
    expect(profile).to_contain_text('"given_name": "Alice"')
    # The tokens themselves and the token-like claims are never shown.
    expect(profile).to_contain_text('"nonce": "[redacted]"')
    expect(profile).not_to_contain_text("eyJ")
    screenshot("test-login-result")
    page.get_by_role("link", name="Back to Acme ID").click()
    page.wait_for_url(f"{live_server.url}/admin/integrations/oauthintegration/{integration.pk}/**")


def test_staff_upload_a_mapping_table_then_a_broken_one_and_keep_the_rules(
    page, live_server, admin_login, staff_user, account, screenshot
):
    from tests.factories import OAuthIntegrationFactory

    integration = OAuthIntegrationFactory(account=account, display_name="Keycloak demo")
    admin_login(page, staff_user)
    page.goto(f"{live_server.url}/admin/integrations/oauthintegration/{integration.pk}/change/")
    page.get_by_role("link", name="Mapping rules, upload and history").click()
    page.wait_for_url(
        f"{live_server.url}/admin/integrations/mappingtableversion/integration/{integration.pk}/"
    )
    expect(page.get_by_role("heading", name="Current rules (0)")).to_be_visible()

    upload = page.get_by_label("Mapping table")
    upload.set_input_files(str(DEMO_MAPPING))
    page.get_by_role("button", name="Upload and review").click()

    # Reviewed first: every rule is new, nothing is live until published.
    expect(page.locator("#mapping-diff-summary")).to_have_text(
        "13 added, 0 changed, 0 removed, 0 unchanged."
    )
    assert integration.mapping_rules.count() == 0
    screenshot("review")
    page.get_by_role("button", name="Publish these rules").click()

    expect(page.locator(".messagelist")).to_contain_text("13 rules from devidp-mapping.csv")
    rules = page.locator("#mapping-rules tbody tr")
    expect(rules).to_have_count(13)
    expect(rules.first).to_contain_text("firstname")
    expect(page.locator("#mapping-rules")).to_contain_text("address.locality")
    expect(page.locator("#mapping-history tbody tr")).to_have_count(1)
    screenshot("uploaded")

    page.get_by_label("Mapping table").set_input_files(str(MAPPING_TABLES / "broken.csv"))
    page.get_by_role("button", name="Upload and review").click()

    errors = page.locator("#upload-errors tbody tr")
    expect(errors.first).to_be_visible()
    lines = [int(text) for text in errors.locator("td:first-child").all_inner_texts()]
    assert sorted(set(lines)) == [2, 4, 5, 6, 7, 9, 10, 11, 12, 13], lines
    expect(errors.filter(has_text="fristname")).to_contain_text("firstname")
    expect(errors.filter(has_text="capitalize").locator("td").first).to_have_text("6")
    # Nothing of it was saved: the rules of the first upload are still the mapping.
    expect(page.locator("#mapping-rules tbody tr")).to_have_count(13)
    expect(page.locator("#mapping-history tbody tr")).to_have_count(1)
    assert integration.mapping_rules.count() == 13
