"""The published campaigns as the public pages read them, kept in each process between changes.

Every page of a participant's journey starts with the campaign, its SSO integration and, for the
form, its fields: the same three rows, read again on each of the journey's seven requests. Here
each process keeps them, tagged with a *generation*: a random token in the shared cache (Redis in
production, so every web process sees it). Saving or deleting a campaign, a field or an
integration replaces the token, and every process reloads on its next request. A request costs
one cache read instead of the queries.

The token is replaced twice: at once, so that the process that saved sees its own change, and
again when the transaction commits, so that a process which reloaded in between (still reading
the old rows) does not keep them. `MAX_AGE_SECONDS` bounds what a change made without signals
(a `QuerySet.update()` in a shell) can leave behind.

Invalidation is wired with signals on purpose: it must follow every write, wherever it comes
from (admin, shell, commands), which is exactly what no explicit call site can promise.
"""

import secrets
import threading
import time

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from integrations.models import OAuthIntegration

from .models import Campaign, CampaignField, CampaignStatus

GENERATION_KEY = "campaigns:public:generation"
MAX_AGE_SECONDS = 300
# Slugs come from URLs: keep the memory bounded whatever is asked for. Unknown slugs are not
# kept at all (each costs one query, as before).
MAX_ENTRIES = 2000

_entries: dict[str, tuple[str, float, Campaign]] = {}
_lock = threading.Lock()


def public_campaign(slug: str) -> Campaign | None:
    """The published campaign with this slug (drafts do not exist for the public), with its
    integration and its fields (`campaign.fields.all()` runs no query). Read-only: shared by the
    requests this process serves."""
    generation = _generation()
    entry = _entries.get(slug)
    if entry is not None and entry[0] == generation and time.monotonic() < entry[1]:
        return entry[2]
    campaign = (
        Campaign.objects.select_related("oauth_integration")
        .prefetch_related("fields")
        .exclude(status=CampaignStatus.DRAFT)
        .filter(slug=slug)
        .first()
    )
    if campaign is not None:
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[slug] = (generation, time.monotonic() + MAX_AGE_SECONDS, campaign)
    return campaign


def public_campaigns_changed() -> None:
    """Make every process reload its campaigns: now, and again when the transaction commits."""
    _new_generation()
    transaction.on_commit(_new_generation)


def _generation() -> str:
    generation = cache.get(GENERATION_KEY)
    if generation is None:
        # A cleared or restarted cache: nobody can tell what changed meanwhile, so start anew.
        generation = secrets.token_hex(8)
        if not cache.add(GENERATION_KEY, generation, timeout=None):
            generation = cache.get(GENERATION_KEY) or generation
    return generation


def _new_generation() -> None:
    cache.set(GENERATION_KEY, secrets.token_hex(8), timeout=None)


def _changed(sender, **kwargs) -> None:
    public_campaigns_changed()


for _model in (Campaign, CampaignField, OAuthIntegration):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"public-campaigns-{_model.__name__}")
    post_delete.connect(
        _changed, sender=_model, dispatch_uid=f"public-campaigns-delete-{_model.__name__}"
    )
