"""The published campaigns as the public pages read them, kept in each process between changes.

Every page of a participant's journey starts with the campaign, its SSO integration and, for the
form, its fields: the same rows, read again on each of the journey's seven requests. They are
read once, turned into frozen data objects (`PublishedCampaign`, its `CampaignFieldData` and
`PublishedIntegration`) and kept in a `core.process_cache.ProcessCache`, which any save or
delete of an account, a campaign, a field or an integration makes every process load again (an
account's switches, set by platform staff, decide whether its campaigns offer a login).

The objects are shared by every thread of the process, so nothing a request does can change
what another one reads: they hold values, not model instances. (One addition by design: a
published campaign keeps the parts of its pages rendered from those values, `rendered_parts`
and `rendered_form_rows`, which its pages fill and read alike.) A page that writes (a
participation, a login attempt, an embedded visit) writes the campaign's and integration's ids.
What depends on the present (started, ended, open) is read from the cache's clock
(core/clock.py), which tests replace instead of the process's own.

Invalidation is wired with signals on purpose: it must follow every write, wherever it comes
from (admin, shell, commands), which is exactly what no explicit call site can promise.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models.signals import post_delete, post_save
from django.utils.translation import get_language

from accounts.models import Account
from accounts.origins import frame_origins_in_force
from campaigns.models import (
    Campaign,
    CampaignField,
    CampaignStatus,
    Embedding,
    FieldOption,
    parse_options,
)
from core.clock import SYSTEM_CLOCK, Clock
from core.links import link_url
from core.process_cache import ProcessCache
from integrations.models import OAuthIntegration


def _localized(language: str | None, english: str, french: str) -> str:
    language = language or get_language() or "en"
    return (french if language.startswith("fr") else "") or english


@dataclass(frozen=True)
class CampaignFieldData:
    """One field of a campaign's form, as the participation form builds it."""

    id: int
    variable: str
    label_en: str
    label_fr: str
    field_type: str
    options: tuple[FieldOption, ...]
    required: bool
    when_prefilled: str
    position: int

    @classmethod
    def of(cls, row: CampaignField) -> "CampaignFieldData":
        return cls(
            id=row.pk,
            variable=row.variable,
            label_en=row.label_en,
            label_fr=row.label_fr,
            field_type=row.field_type,
            options=tuple(parse_options(row.options)),
            required=row.required,
            when_prefilled=row.when_prefilled,
            position=row.position,
        )

    def label(self, language: str | None = None) -> str:
        return _localized(language, self.label_en, self.label_fr)


@dataclass(frozen=True)
class PublishedIntegration:
    """The campaign's SSO integration, as the login start and the pages read it: what
    `ClientConfig.from_integration`, `FlowSnapshot.of` and `callback_url` read, by the same
    names, and whether it can be used now (`unavailable_reason`, from the account's switches
    and its own, all among the rows whose change empties the cache)."""

    id: int
    account_id: int
    display_name: str
    client_id: str
    # Decrypted by the model field when read, or its UndecryptableSecret: never in a repr.
    client_secret: object = field(repr=False)
    authorization_endpoint: str
    token_endpoint: str
    scope: str
    use_pkce: bool
    client_auth_method: str
    profile_endpoint: str
    issuer: str
    jwks_uri: str
    iss_parameter_supported: bool
    callback_key: str
    use_shared_callback: bool
    shared_callback_allowed: bool
    identifier_source: str
    identifier_field: str
    connect_timeout: float
    read_timeout: float
    unavailable_reason: str
    # A test login is let through where participants are not (a disabled integration).
    unavailable_for_test_login: str

    @classmethod
    def of(cls, row: OAuthIntegration) -> "PublishedIntegration":
        return cls(
            id=row.pk,
            account_id=row.account_id,
            display_name=row.display_name,
            client_id=row.client_id,
            client_secret=row.client_secret,
            authorization_endpoint=row.authorization_endpoint,
            token_endpoint=row.token_endpoint,
            scope=row.scope,
            use_pkce=row.use_pkce,
            client_auth_method=row.client_auth_method,
            profile_endpoint=row.profile_endpoint,
            issuer=row.issuer,
            jwks_uri=row.jwks_uri,
            iss_parameter_supported=row.iss_parameter_supported,
            callback_key=row.callback_key,
            use_shared_callback=row.use_shared_callback,
            shared_callback_allowed=row.shared_callback_allowed,
            identifier_source=row.identifier_source,
            identifier_field=row.identifier_field,
            connect_timeout=row.connect_timeout,
            read_timeout=row.read_timeout,
            unavailable_reason=row.unavailable_reason(),
            unavailable_for_test_login=row.unavailable_reason(test_login=True),
        )

    @property
    def pk(self) -> int:
        return self.id

    # The model's own rules, which read nothing but `scope`.
    scopes = OAuthIntegration.scopes
    is_openid = OAuthIntegration.is_openid

    def get_client_secret(self) -> str:
        """As `OAuthIntegration.get_client_secret`: raises IntegrationConfigurationError when
        the secret cannot be used."""
        # The model's rule itself, which reads nothing but `client_secret`.
        return OAuthIntegration.get_client_secret(self)


@dataclass(frozen=True)
class PublishedCampaign:
    """A published (live or ended) campaign, as its public pages read it. Attributes and
    methods by the names of `Campaign`'s, so that templates read either alike."""

    id: int
    slug: str
    account_id: int
    title: str
    title_fr: str
    description: str
    description_fr: str
    starts_at: datetime | None
    ends_at: datetime | None
    status: str
    languages: tuple[str, ...]
    sso_mode: str
    prefill_mode: str
    participation_limit: str
    privacy_policy_link: str
    embedding: str
    # The campaign's own list and its account's: which applies is read at request time, since
    # the development flag may drop some (accounts/origins.py).
    embed_allowed_origins: tuple[str, ...]
    account_embed_allowed_origins: tuple[str, ...]
    oauth_integration_id: int | None
    oauth_integration: PublishedIntegration | None
    fields: tuple[CampaignFieldData, ...]
    clock: Clock = field(default=SYSTEM_CLOCK, repr=False, compare=False)
    # The parts of its pages that show only this campaign's data, rendered once per language
    # and path (participants/pages.py, `page_parts`). They go with this object, which any change
    # of the campaign, its account or its integration replaces in every process.
    rendered_parts: dict = field(default_factory=dict, repr=False, compare=False)
    # The rows of its empty participation form (nothing posted, nothing prefilled), per
    # language (participants/forms.py, `ParticipationForm.rows_rendered`); the same lifetime.
    rendered_form_rows: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, row: Campaign, *, clock: Clock = SYSTEM_CLOCK) -> "PublishedCampaign":
        """Built from a campaign read with its account, integration (and its account) and
        fields (`public_campaign`'s query): no query of its own."""
        integration = row.oauth_integration
        return cls(
            id=row.pk,
            slug=row.slug,
            account_id=row.account_id,
            title=row.title,
            title_fr=row.title_fr,
            description=row.description,
            description_fr=row.description_fr,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            status=row.status,
            languages=tuple(row.offered_languages),
            sso_mode=row.sso_mode,
            prefill_mode=row.prefill_mode,
            participation_limit=row.participation_limit,
            privacy_policy_link=row.privacy_policy_link,
            embedding=row.embedding,
            embed_allowed_origins=_origins(row.embed_allowed_origins),
            account_embed_allowed_origins=_origins(row.account.embed_allowed_origins),
            oauth_integration_id=row.oauth_integration_id,
            oauth_integration=PublishedIntegration.of(integration) if integration else None,
            fields=tuple(CampaignFieldData.of(f) for f in row.fields.all()),
            clock=clock,
        )

    @property
    def pk(self) -> int:
        return self.id

    def get_absolute_url(self) -> str:
        # The public page belongs to participants, which registers it (core/links.py).
        return link_url("campaign_page", slug=self.slug)

    @property
    def login_integration(self) -> PublishedIntegration | None:
        """As `Campaign.login_integration`: the integration participants may log in with now,
        or None."""
        integration = self.oauth_integration
        if integration is None or integration.account_id != self.account_id:
            return None
        if integration.unavailable_reason:
            return None
        return integration

    @property
    def frame_ancestors(self) -> list[str]:
        if self.embedding == Embedding.OWN:
            return frame_origins_in_force(list(self.embed_allowed_origins))
        if self.embedding == Embedding.ACCOUNT:
            return frame_origins_in_force(list(self.account_embed_allowed_origins))
        return []

    @property
    def offered_languages(self) -> list[str]:
        return list(self.languages)

    def localized_title(self, language: str | None = None) -> str:
        return _localized(language, self.title, self.title_fr)

    def localized_description(self, language: str | None = None) -> str:
        return _localized(language, self.description, self.description_fr)

    @property
    def has_started(self) -> bool:
        return self.starts_at is None or self.starts_at <= self.clock.now()

    @property
    def has_ended(self) -> bool:
        return self.status == CampaignStatus.ENDED or (
            self.ends_at is not None and self.ends_at <= self.clock.now()
        )

    @property
    def is_open(self) -> bool:
        now = self.clock.now()
        return (
            self.status == CampaignStatus.LIVE
            and (self.starts_at is None or self.starts_at <= now)
            and (self.ends_at is None or now < self.ends_at)
        )


def _origins(value) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list) else ()


# Slugs come from URLs: the memory stays bounded whatever is asked for.
public_campaigns: ProcessCache[PublishedCampaign] = ProcessCache(
    "public-campaigns", max_entries=2000, max_age=300
)


def public_campaign(slug: str) -> PublishedCampaign | None:
    """The published campaign with this slug (drafts do not exist for the public), with its
    integration and its fields; built once per load, shared by the requests this process
    serves, immutable. Its clock is the cache's (`public_campaigns.clock`)."""
    return public_campaigns.get(slug, lambda: _load(clock=public_campaigns.clock, slug=slug))


def public_campaign_by_id(campaign_id: int) -> PublishedCampaign | None:
    """As `public_campaign`, by id: the campaign a login attempt was started from."""
    return public_campaigns.get(
        ("id", campaign_id), lambda: _load(clock=public_campaigns.clock, pk=campaign_id)
    )


def _load(*, clock: Clock, **lookup) -> PublishedCampaign | None:
    """The published campaign matching `lookup` (its slug, or its pk), or None."""
    row = (
        Campaign.objects.select_related("account", "oauth_integration__account")
        .prefetch_related("fields")
        .exclude(status=CampaignStatus.DRAFT)
        .filter(**lookup)
        .first()
    )
    return PublishedCampaign.of(row, clock=clock) if row is not None else None


# Integrations by id, for the callback: the integration its login attempt was started with,
# whichever campaign uses it now.
published_integrations: ProcessCache[PublishedIntegration] = ProcessCache(
    "published-integrations", max_entries=2000, max_age=300
)


def published_integration(integration_id: int) -> PublishedIntegration | None:
    """The integration with this id as `PublishedIntegration` (its account's switches
    included), kept like the public campaigns and emptied by the same changes."""
    return published_integrations.get(integration_id, lambda: _integration_load(integration_id))


def _integration_load(integration_id: int) -> PublishedIntegration | None:
    row = OAuthIntegration.objects.select_related("account").filter(pk=integration_id).first()
    return PublishedIntegration.of(row) if row is not None else None


def _changed(sender, **kwargs) -> None:
    public_campaigns.changed()
    published_integrations.changed()


for _model in (Account, Campaign, CampaignField, OAuthIntegration):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"public-campaigns-{_model.__name__}")
    post_delete.connect(
        _changed, sender=_model, dispatch_uid=f"public-campaigns-delete-{_model.__name__}"
    )
