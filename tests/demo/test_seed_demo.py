import importlib.util
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import Account, Membership, Role
from accounts.permissions import is_platform_staff
from campaigns.models import Campaign, CampaignField, CampaignStatus, WhenPrefilled
from integrations.models import MappingRule, OAuthIntegration, WebhookEndpoint

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MAPPING_AVAILABLE = importlib.util.find_spec("integrations.mapping") is not None


@pytest.fixture
def demo_env(monkeypatch):
    monkeypatch.setenv("DEVIDP_CLIENT_ID", "campaign-sso-demo")
    monkeypatch.setenv("DEVIDP_CLIENT_SECRET", "idp-client-secret")
    monkeypatch.setenv("DEMO_WEBHOOK_SECRET", WEBHOOK_SECRET)
    monkeypatch.setenv("DEVIDP_CALLBACK_KEY", "demo-callback-key")


@pytest.fixture
def no_demo_env(monkeypatch):
    for name in ("DEVIDP_CLIENT_ID", "DEVIDP_CLIENT_SECRET", "DEMO_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)


def _seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def _counts():
    models = [
        get_user_model(), Account, Membership, Campaign, CampaignField,
        OAuthIntegration, MappingRule, WebhookEndpoint,
    ]  # fmt: skip
    return {model.__name__: model.objects.count() for model in models}


def test_seeds_everything_the_demo_needs(db, demo_env):
    output = _seed()

    account = Account.objects.get(slug="demo")
    assert account.sso_oauth_enabled
    # Linked next to the login button, never fetched.
    assert account.privacy_policy_url == "https://www.example.com/demo-customer/privacy"
    users = {user.username: user for user in get_user_model().objects.all()}
    assert is_platform_staff(users["staff"])
    assert users["admin"].memberships.get().role == Role.ADMINISTRATOR
    assert users["editor"].memberships.get().role == Role.EDITOR
    assert users["admin"].check_password("demo-password-123")

    integration = OAuthIntegration.objects.get(account=account)
    assert integration.client_id == "campaign-sso-demo"
    assert integration.get_client_secret() == "idp-client-secret"
    assert integration.authorization_endpoint == "http://127.0.0.1:9000/o/authorize/"
    assert integration.issuer == "http://127.0.0.1:9000/o"

    campaign = Campaign.objects.get(slug="summer-contest")
    assert (campaign.status, campaign.languages) == (CampaignStatus.LIVE, ["en", "fr"])
    assert campaign.title_fr and campaign.oauth_integration == integration
    fields = {field.variable: field for field in campaign.fields.all()}
    assert list(fields) == [
        "firstname", "lastname", "email", "birthdate", "phone", "city", "country",
        "optin_newsletter",
    ]  # fmt: skip
    assert {field.when_prefilled for field in fields.values()} == set(WhenPrefilled.values)
    assert all(field.label_fr for field in fields.values())
    assert "BE|Belgium|Belgique" in fields["country"].options

    endpoint = WebhookEndpoint.objects.get(account=account)
    assert endpoint.url == "http://127.0.0.1:9100/"
    assert endpoint.secret == WEBHOOK_SECRET
    assert set(endpoint.events) == {
        "profile.updated",
        "participation.created",
        "participant.erased",
    }

    if MAPPING_AVAILABLE:
        assert integration.mapping_rules.count() == 13
    else:
        assert "Mapping: skipped" in output
    assert "staff / demo-password-123" in output
    assert "/c/summer-contest/" in output


def test_running_it_twice_changes_nothing(db, demo_env):
    _seed()
    before = _counts()
    campaign = Campaign.objects.get()
    campaign.title = "Edited during the demo"
    campaign.save()

    _seed()

    assert _counts() == before
    assert Campaign.objects.get().title == "Edited during the demo"


def test_ports_and_secrets_follow_the_arguments_and_env(db, demo_env, monkeypatch):
    _seed()
    monkeypatch.setenv("DEMO_WEBHOOK_SECRET", "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB")

    _seed("--idp-url", "http://127.0.0.1:9500/", "--webhook-url", "http://127.0.0.1:9600/")

    integration = OAuthIntegration.objects.get()
    assert integration.token_endpoint == "http://127.0.0.1:9500/o/token/"
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == "http://127.0.0.1:9600/"
    assert endpoint.secret == "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"


def test_without_the_demo_env_the_integration_and_webhook_are_skipped_with_a_note(
    db, no_demo_env, monkeypatch
):
    output = _seed()

    assert "Integration: skipped" in output
    assert "Webhook: skipped" in output
    assert not OAuthIntegration.objects.exists()
    assert Campaign.objects.get().oauth_integration is None

    monkeypatch.setenv("DEVIDP_CLIENT_ID", "campaign-sso-demo")
    monkeypatch.setenv("DEVIDP_CLIENT_SECRET", "idp-client-secret")
    _seed()

    assert Campaign.objects.get().oauth_integration == OAuthIntegration.objects.get()


def test_the_demo_integration_uses_its_own_callback_url_from_the_env(db, demo_env):
    out = _seed()
    integration = OAuthIntegration.objects.get()
    assert integration.callback_key == "demo-callback-key"
    assert integration.use_shared_callback is False
    assert "callback URL https://sso.example.test/oauth/callback/demo-callback-key" in out
    # A demo database from before per-integration URLs (migrated to the shared URL) is moved
    # onto the URL `make run` registers at the development IdP.
    OAuthIntegration.objects.update(use_shared_callback=True, callback_key="older-key")
    _seed()
    integration.refresh_from_db()
    assert (integration.callback_key, integration.use_shared_callback) == (
        "demo-callback-key",
        False,
    )
    assert integration.unavailable_reason() == ""


def test_the_demo_host_page_may_embed_the_demo_campaign(db, demo_env):
    output = _seed()
    account = Account.objects.get(slug="demo")
    assert account.embed_allowed_origins == ["http://localhost:9200"]
    assert Campaign.objects.get().frame_ancestors == ["http://localhost:9200"]
    assert "/e/summer-contest/" in output

    _seed("--embed-host-url", "http://localhost:9400/")
    account.refresh_from_db()
    assert account.embed_allowed_origins == ["http://localhost:9200", "http://localhost:9400"]


def test_without_development_flags_the_demo_host_page_is_skipped_with_a_note(
    db, demo_env, settings
):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    output = _seed()
    assert "Embedding: skipped, http://localhost:9200 cannot embed campaigns here" in output
    assert Account.objects.get(slug="demo").embed_allowed_origins == []
