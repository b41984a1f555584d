# Seeds the product for the peer benchmark (run through `manage.py shell`): one account with the
# SSO entitlement, an integration at the stub (client_secret_basic, PKCE, openid), the mapping
# the peers' final page needs (email), and a live campaign "bench" prefilled from it.
import os

from accounts.models import Account
from campaigns.models import Campaign, CampaignField, CampaignStatus, FieldType
from integrations.models import MappingRule, OAuthIntegration

idp = os.environ["BENCH_IDP_URL"]
account = Account.objects.create(name="Bench Customer", slug="bench", sso_oauth_enabled=True)
integration = OAuthIntegration.objects.create(
    account=account,
    display_name="Bench IdP",
    client_id=os.environ["BENCH_CLIENT_ID"],
    client_secret=os.environ["BENCH_CLIENT_SECRET"],
    authorization_endpoint=f"{idp}/authorize",
    token_endpoint=f"{idp}/token",
    profile_endpoint=f"{idp}/userinfo",
    jwks_uri=f"{idp}/jwks",
    issuer=idp,
    scope="openid email profile",
    use_pkce=True,
)
for position, (target, source) in enumerate(
    [("firstname", "given_name"), ("lastname", "family_name"), ("email", "email")]
):
    MappingRule.objects.create(
        integration=integration, target=target, source=source, position=position
    )
campaign = Campaign.objects.create(
    account=account,
    title="Bench contest",
    slug="bench",
    status=CampaignStatus.LIVE,
    languages=["en"],
    oauth_integration=integration,
)
for position, (variable, field_type, label) in enumerate(
    [
        ("firstname", FieldType.TEXT, "First name"),
        ("lastname", FieldType.TEXT, "Last name"),
        ("email", FieldType.EMAIL, "E-mail address"),
    ]
):
    CampaignField.objects.create(
        campaign=campaign,
        variable=variable,
        field_type=field_type,
        label_en=label,
        required=True,
        position=position,
    )
