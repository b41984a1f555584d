"""The published campaigns as the public pages read them, kept in each process between changes.

Every page of a participant's journey starts with the campaign, its SSO integration and, for the
form, its fields: the same rows, read again on each of the journey's seven requests. They are
kept in a `core.process_cache.ProcessCache`, which any save or delete of an account, a
campaign, a field or an integration makes every process load again (an account's switches, set
by platform staff, decide whether its campaigns offer a login).

Invalidation is wired with signals on purpose: it must follow every write, wherever it comes
from (admin, shell, commands), which is exactly what no explicit call site can promise.
"""

from django.db.models.signals import post_delete, post_save

from accounts.models import Account
from campaigns.models import Campaign, CampaignField, CampaignStatus
from core.process_cache import ProcessCache
from integrations.models import OAuthIntegration

# Slugs come from URLs: the memory stays bounded whatever is asked for.
public_campaigns: ProcessCache[Campaign] = ProcessCache(
    "public-campaigns", max_entries=2000, max_age=300
)


def public_campaign(slug: str) -> Campaign | None:
    """The published campaign with this slug (drafts do not exist for the public), with its
    integration and its fields (`campaign.fields.all()` runs no query). Read-only: shared by the
    requests this process serves."""
    return public_campaigns.get(
        slug,
        lambda: (
            Campaign.objects.select_related("account", "oauth_integration__account")
            .prefetch_related("fields")
            .exclude(status=CampaignStatus.DRAFT)
            .filter(slug=slug)
            .first()
        ),
    )


def _changed(sender, **kwargs) -> None:
    public_campaigns.changed()


for _model in (Account, Campaign, CampaignField, OAuthIntegration):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"public-campaigns-{_model.__name__}")
    post_delete.connect(
        _changed, sender=_model, dispatch_uid=f"public-campaigns-delete-{_model.__name__}"
    )
