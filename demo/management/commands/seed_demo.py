"""Seed the demo data idempotently: running it twice changes nothing.

Each part is a small function, run in order inside one transaction: `seed_accounts()` (staff,
the demo account with the OAuth entitlement on and a privacy policy, its Administrator and
Editor), `seed_integration()` (the OAuth 2.0 integration pointing at the development IdP),
`seed_mapping()` (the integration's mapping, uploaded from `demo/devidp-mapping.csv`),
`seed_campaign()` (a live campaign in English and French), `seed_webhook()` (an endpoint
pointing at the local receiver) and `seed_embedding()` (the demo's host page, a site of its own,
may embed the account's campaigns). A part whose inputs or feature are missing is skipped with a
printed note, never an error, so the command works at every stage of the project.

Objects that already exist are left as they are (people edit them during the demo), except the
values that must match `.env` and the `make run` ports: the IdP endpoints, the client secret,
the webhook URL and secret; and an account without a privacy policy gets the demo's, so that
the notice next to the login button links one.
"""

import os
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Account, Membership, Role
from accounts.origins import frame_origin_parse
from accounts.permissions import PLATFORM_STAFF_GROUP
from campaigns.models import Campaign, CampaignField, CampaignStatus, FieldType, WhenPrefilled
from integrations.fields import UndecryptableSecret
from integrations.models import ClientAuthMethod, OAuthIntegration, WebhookEndpoint, WebhookEvent
from integrations.oauth.redirect_uri import callback_url

DEMO_PASSWORD = "demo-password-123"
DEMO_USERS = [
    # username, role (None = platform staff)
    ("staff", None),
    ("admin", Role.ADMINISTRATOR),
    ("editor", Role.EDITOR),
]
DEMO_ACCOUNT_SLUG = "demo"
DEMO_CAMPAIGN_SLUG = "summer-contest"
DEVIDP_DISPLAY_NAME = "Demo IdP"
DEFAULT_IDP_URL = "http://127.0.0.1:9000"
DEFAULT_WEBHOOK_URL = "http://127.0.0.1:9100/"
# The customer's page `make run` serves (demo/embed_host.py): localhost, another site than ours.
DEFAULT_EMBED_HOST_URL = "http://localhost:9200"
# Linked next to the login button; never fetched (example.com is reserved for examples).
DEMO_PRIVACY_POLICY_URL = "https://www.example.com/demo-customer/privacy"
MAPPING_TABLE = Path(settings.BASE_DIR) / "demo" / "devidp-mapping.csv"

COUNTRY_OPTIONS = "\n".join(
    [
        "BE|Belgium|Belgique",
        "FR|France|France",
        "LU|Luxembourg|Luxembourg",
        "NL|Netherlands|Pays-Bas",
        "DE|Germany|Allemagne",
        "CH|Switzerland|Suisse",
        "GB|United Kingdom|Royaume-Uni",
    ]
)
# variable, English label, French label, type, when prefilled, required: every behaviour shows.
DEMO_FIELDS = [
    ("firstname", "First name", "Prénom", FieldType.TEXT, WhenPrefilled.READONLY, True),
    ("lastname", "Last name", "Nom", FieldType.TEXT, WhenPrefilled.READONLY, True),
    ("email", "E-mail address", "Adresse e-mail", FieldType.EMAIL, WhenPrefilled.SHOW, True),
    ("birthdate", "Date of birth", "Date de naissance", FieldType.DATE, WhenPrefilled.HIDE, False),
    ("phone", "Phone number", "Numéro de téléphone", FieldType.PHONE, WhenPrefilled.SHOW, False),
    ("city", "City", "Ville", FieldType.TEXT, WhenPrefilled.SHOW, False),
    ("country", "Country", "Pays", FieldType.SELECT, WhenPrefilled.SHOW, False),
    (
        "optin_newsletter",
        "I want to receive the newsletter",
        "Je souhaite recevoir la newsletter",
        FieldType.CHECKBOX,
        WhenPrefilled.SHOW,
        False,
    ),
]

Note = Callable[[str], None]


def seed_accounts() -> tuple[Account, dict[str, object]]:
    """The demo account (OAuth entitlement on, a privacy policy) and the staff, admin and editor
    users."""
    account, _ = Account.objects.get_or_create(
        slug=DEMO_ACCOUNT_SLUG,
        defaults={
            "name": "Demo Customer",
            "sso_oauth_enabled": True,
            "privacy_policy_url": DEMO_PRIVACY_POLICY_URL,
        },
    )
    if not account.privacy_policy_url:
        # A demo database from before privacy policies: the notice links one too.
        account.privacy_policy_url = DEMO_PRIVACY_POLICY_URL
        account.save(update_fields=["privacy_policy_url"])
    User = get_user_model()
    users = {}
    for username, role in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": True, "email": f"{username}@example.com"}
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        if role is None:
            user.groups.add(Group.objects.get(name=PLATFORM_STAFF_GROUP))
        else:
            Membership.objects.get_or_create(user=user, account=account, defaults={"role": role})
        users[username] = user
    return account, users


def seed_integration(*, account: Account, idp_url: str, note: Note) -> OAuthIntegration | None:
    """The OAuth 2.0 integration with the development IdP (its client is DEVIDP_CLIENT_ID)."""
    client_id = os.environ.get("DEVIDP_CLIENT_ID", "")
    client_secret = os.environ.get("DEVIDP_CLIENT_SECRET", "")
    if not (client_id and client_secret):
        note(
            "Integration: skipped, DEVIDP_CLIENT_ID / DEVIDP_CLIENT_SECRET are not set "
            "(`make run` writes them into .env)."
        )
        return None
    idp_url = idp_url.rstrip("/")
    # The development IdP is django-oauth-toolkit under /o: issuer <idp>/o, discovery at
    # <idp>/o/.well-known/openid-configuration.
    endpoints = {
        "client_id": client_id,
        "authorization_endpoint": f"{idp_url}/o/authorize/",
        "token_endpoint": f"{idp_url}/o/token/",
        "profile_endpoint": f"{idp_url}/o/userinfo/",
        "issuer": f"{idp_url}/o",
        "jwks_uri": f"{idp_url}/o/.well-known/jwks.json",
    }
    # Its redirect URI, <site>/oauth/callback/<key>, is registered at the development IdP by
    # `make run` from the same .env value.
    callback_key = os.environ.get("DEVIDP_CALLBACK_KEY", "")
    if callback_key:
        endpoints["callback_key"] = callback_key
        endpoints["use_shared_callback"] = False
    integration = OAuthIntegration.objects.filter(
        account=account, display_name=DEVIDP_DISPLAY_NAME
    ).first()
    if integration is None:
        integration = OAuthIntegration.objects.create(
            account=account,
            display_name=DEVIDP_DISPLAY_NAME,
            client_secret=client_secret,
            scope="openid profile email address phone campaign",
            use_pkce=True,
            client_auth_method=ClientAuthMethod.BASIC,
            iss_parameter_supported=True,
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            **endpoints,
        )
        return integration
    changed = [name for name, value in endpoints.items() if getattr(integration, name) != value]
    for name in changed:
        setattr(integration, name, endpoints[name])
    stored = integration.client_secret
    if isinstance(stored, UndecryptableSecret) or stored != client_secret:
        integration.client_secret = client_secret
        changed.append("client_secret")
    if changed:
        integration.save(update_fields=[*changed, "updated_at"])
    return integration


def seed_mapping(*, integration: OAuthIntegration | None, user, note: Note) -> None:
    """Upload the sample mapping table, as staff would (unchanged tables are not saved again)."""
    if integration is None:
        return
    try:
        from integrations.mapping.store import ImportStatus, mapping_table_import
    except ImportError:
        note("Mapping: skipped, mapping tables are not available in this version yet.")
        return
    outcome = mapping_table_import(
        integration=integration,
        user=user,
        filename=MAPPING_TABLE.name,
        data=MAPPING_TABLE.read_bytes(),
    )
    if outcome.status == ImportStatus.INVALID:
        problems = "; ".join(f"line {e.line}: {e.message}" for e in outcome.errors)
        note(f"Mapping: {outcome.message} {problems}")


def seed_campaign(*, account: Account, integration: OAuthIntegration | None) -> Campaign:
    """A live campaign in English and French asking for every field behaviour."""
    campaign, created = Campaign.objects.get_or_create(
        slug=DEMO_CAMPAIGN_SLUG,
        defaults={
            "account": account,
            "title": "Summer contest",
            "title_fr": "Concours d’été",
            "description": "Win a weekend by the sea: log in, check your details, take part.",
            "description_fr": (
                "Gagnez un week-end à la mer : connectez-vous, vérifiez vos données, participez."
            ),
            "status": CampaignStatus.LIVE,
            "languages": ["en", "fr"],
            "oauth_integration": integration,
        },
    )
    if not created and campaign.oauth_integration is None and integration is not None:
        # The integration appeared in a later run (its client id and secret were added).
        campaign.oauth_integration = integration
        campaign.save(update_fields=["oauth_integration"])
    for position, (variable, label_en, label_fr, field_type, when, required) in enumerate(
        DEMO_FIELDS, start=1
    ):
        CampaignField.objects.get_or_create(
            campaign=campaign,
            variable=variable,
            defaults={
                "label_en": label_en,
                "label_fr": label_fr,
                "field_type": field_type,
                "options": COUNTRY_OPTIONS if variable == "country" else "",
                "when_prefilled": when,
                "required": required,
                "position": position * 10,
            },
        )
    return campaign


def seed_webhook(*, account: Account, url: str, note: Note) -> WebhookEndpoint | None:
    """An endpoint pointing at the local receiver, signed with DEMO_WEBHOOK_SECRET."""
    secret = os.environ.get("DEMO_WEBHOOK_SECRET", "")
    if not secret:
        note("Webhook: skipped, DEMO_WEBHOOK_SECRET is not set (`make run` writes it into .env).")
        return None
    endpoint = WebhookEndpoint.objects.filter(
        account=account, description="Local demo receiver"
    ).first()
    if endpoint is None:
        return WebhookEndpoint.objects.create(
            account=account,
            url=url,
            description="Local demo receiver",
            events=[
                WebhookEvent.PROFILE_UPDATED,
                WebhookEvent.PARTICIPATION_CREATED,
                WebhookEvent.PARTICIPANT_ERASED,
            ],
            secret=secret,
        )
    changed = []
    if endpoint.url != url:
        endpoint.url = url
        changed.append("url")
    if isinstance(endpoint.secret, UndecryptableSecret) or endpoint.secret != secret:
        # The receiver checks signatures with the secret in .env: keep both in step.
        endpoint.secret = secret
        changed.append("secret")
    if changed:
        endpoint.save(update_fields=changed)
    return endpoint


def seed_embedding(*, account: Account, host_url: str, note: Note) -> None:
    """Let the demo's host page embed the account's campaigns (added to the account's sites)."""
    try:
        origin = frame_origin_parse(host_url)
    except ValidationError as error:
        note(f"Embedding: skipped, {host_url} cannot embed campaigns here: {error.messages[0]}")
        return
    if origin not in account.embed_allowed_origins:
        account.embed_allowed_origins = [*account.embed_allowed_origins, origin]
        account.save(update_fields=["embed_allowed_origins"])


class Command(BaseCommand):
    help = (
        "Create the demo account, users, integration, mapping, campaign and webhook endpoint "
        "(idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--idp-url",
            default=DEFAULT_IDP_URL,
            help=f"Base URL of the development IdP (default {DEFAULT_IDP_URL}).",
        )
        parser.add_argument(
            "--webhook-url",
            default=DEFAULT_WEBHOOK_URL,
            help=f"Where the demo webhook endpoint posts (default {DEFAULT_WEBHOOK_URL}).",
        )
        parser.add_argument(
            "--embed-host-url",
            default=DEFAULT_EMBED_HOST_URL,
            help=(
                "The demo's customer page that embeds the campaign, allowed to frame it "
                f"(default {DEFAULT_EMBED_HOST_URL})."
            ),
        )

    def handle(self, *args, **options):
        notes: list[str] = []
        with transaction.atomic():
            account, users = seed_accounts()
            integration = seed_integration(
                account=account, idp_url=options["idp_url"], note=notes.append
            )
            seed_mapping(integration=integration, user=users["staff"], note=notes.append)
            campaign = seed_campaign(account=account, integration=integration)
            seed_webhook(account=account, url=options["webhook_url"], note=notes.append)
            seed_embedding(account=account, host_url=options["embed_host_url"], note=notes.append)
        self._summary(campaign, integration, notes)

    def _summary(self, campaign, integration, notes):
        site = settings.PUBLIC_BASE_URL
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"Campaign: {site}/c/{campaign.slug}/  (French: ?lang=fr)")
        self.stdout.write(f"Embedded: {site}/e/{campaign.slug}/")
        self.stdout.write(f"Admin: {site}/admin/")
        for username, role in DEMO_USERS:
            label = "platform staff" if role is None else role.label
            self.stdout.write(f"  {username} / {DEMO_PASSWORD}  ({label})")
        if integration is not None:
            self.stdout.write(
                f"Integration: {integration.display_name} at {integration.issuer}, "
                f"client {integration.client_id}; callback URL {callback_url(integration)}"
            )
        for note in notes:
            self.stdout.write(self.style.WARNING(note))
