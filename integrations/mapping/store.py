"""The database side of mappings: an integration's rules, uploads and their history.

Every change of the rules (upload, restore, an edit in the admin) goes through here, replaces
the rules in one transaction and is recorded as a MappingTableVersion, so history is complete
and any version can be restored.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone
from django.utils.translation import ngettext

from core.process_cache import ProcessCache
from integrations.mapping.apply import Rule, rules_from_rows
from integrations.mapping.tables import RowError, RuleSpec, TableError, table_validate
from integrations.mapping.uploads import filename_display, table_read
from integrations.models import MappingDraft, MappingRule, MappingTableVersion, OAuthIntegration
from integrations.variables import STANDARD_VARIABLES

# Every participant's login reads and compiles its integration's rules: each process keeps them
# until `compiled_rules.changed()`, which every function below that writes rules calls, as does
# saving one rule anywhere (the signal below). Deletes are not followed by a signal: it would
# turn `mapping_rules_replace`'s one DELETE into a SELECT and a signal per rule.
compiled_rules: ProcessCache[tuple[Rule, ...]] = ProcessCache(
    "mapping-rules", max_entries=10_000, max_age=300
)


def mapping_rules_for(*, integration: OAuthIntegration) -> list[Rule]:
    """The integration's compiled rules, for `mapping_apply` (login flow, preview, test login)."""
    rules = compiled_rules.get(
        integration.pk,
        lambda: tuple(
            rules_from_rows(rows=MappingRule.objects.filter(integration_id=integration.pk))
        ),
    )
    return list(rules)


def mapping_rules_changed(**_signal_kwargs) -> None:
    """Rules were written outside this module (a data migration, a shell): reload them."""
    compiled_rules.changed()


post_save.connect(mapping_rules_changed, sender=MappingRule, dispatch_uid="mapping-rules-saved")


def mapping_specs_for(*, integration: OAuthIntegration) -> list[RuleSpec]:
    return [
        RuleSpec(rule.target, rule.source, rule.transform, rule.fallback, rule.required, rule.notes)
        for rule in integration.mapping_rules.all()
    ]


def custom_variables_for(*, integration: OAuthIntegration) -> frozenset[str]:
    """Custom names the integration already maps: accepted again even if they look like a typo
    of a standard name (they were accepted once, or declared on purpose)."""
    targets = integration.mapping_rules.values_list("target", flat=True)
    return frozenset(target for target in targets if target not in STANDARD_VARIABLES)


def _specs_sha256(specs: list[RuleSpec]) -> str:
    canonical = json.dumps([spec.as_dict() for spec in specs], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _current_version(integration: OAuthIntegration) -> MappingTableVersion | None:
    return integration.mapping_versions.filter(is_current=True).first()


@transaction.atomic
def mapping_rules_replace(
    *,
    integration: OAuthIntegration,
    specs: list[RuleSpec],
    user,
    filename: str,
    sha256: str = "",
) -> MappingTableVersion:
    """Replace all rules with `specs` and record the version; all or nothing."""
    # Lock the integration row so two uploads at once cannot interleave their rule sets.
    OAuthIntegration.objects.select_for_update().filter(pk=integration.pk).first()
    compiled_rules.changed()
    integration.mapping_rules.all().delete()
    MappingRule.objects.bulk_create(
        [
            MappingRule(
                integration=integration,
                target=spec.target,
                source=spec.source,
                transform=spec.transform,
                fallback=spec.fallback,
                required=spec.required,
                notes=spec.notes,
                position=position,
            )
            for position, spec in enumerate(specs)
        ],
        batch_size=500,
    )
    integration.mapping_versions.filter(is_current=True).update(is_current=False)
    return MappingTableVersion.objects.create(
        integration=integration,
        uploaded_by=user if getattr(user, "pk", None) else None,
        filename=filename[:255],
        sha256=sha256 or _specs_sha256(specs),
        rules=[spec.as_dict() for spec in specs],
        is_current=True,
    )


class ImportStatus(StrEnum):
    SAVED = "saved"
    # Valid and new: kept as a draft for review (mapping_table_stage).
    STAGED = "staged"
    UNCHANGED = "unchanged"
    INVALID = "invalid"


@dataclass(slots=True)
class ImportOutcome:
    status: ImportStatus
    message: str
    errors: list[RowError] = field(default_factory=list)
    version: MappingTableVersion | None = None
    draft: MappingDraft | None = None
    specs: list[RuleSpec] = field(default_factory=list)
    sha256: str = ""
    filename: str = ""


def _table_check(*, integration: OAuthIntegration, filename: str, data: bytes) -> ImportOutcome:
    """Read and validate a table: INVALID (nothing to save), UNCHANGED (the current one), or
    STAGED with its specs, ready to be saved or kept for review."""
    display_name = filename_display(name=filename)
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        rows = table_read(filename=filename, data=data)
    except TableError as error:
        return ImportOutcome(ImportStatus.INVALID, str(error))
    validation = table_validate(
        rows=rows, custom_variables=custom_variables_for(integration=integration)
    )
    if validation.errors:
        count = len({error.line for error in validation.errors})
        message = ngettext(
            "%(count)d row of %(file)s has errors; nothing was saved.",
            "%(count)d rows of %(file)s have errors; nothing was saved.",
            count,
        ) % {"count": count, "file": display_name}
        return ImportOutcome(ImportStatus.INVALID, message, validation.errors)
    current = _current_version(integration)
    if current is not None and (
        current.sha256 == sha256 or current.rules == [s.as_dict() for s in validation.specs]
    ):
        return ImportOutcome(
            ImportStatus.UNCHANGED, "This table is the current one; nothing changed.", [], current
        )
    return ImportOutcome(
        ImportStatus.STAGED,
        "",
        specs=validation.specs,
        sha256=sha256,
        filename=display_name,
        version=current,
    )


def _saved_message(count: int, filename: str) -> str:
    return ngettext(
        "%(count)d rule from %(file)s is now the mapping.",
        "%(count)d rules from %(file)s are now the mapping.",
        count,
    ) % {"count": count, "file": filename}


def mapping_table_import(
    *, integration: OAuthIntegration, user, filename: str, data: bytes
) -> ImportOutcome:
    """Read, validate and (when valid and new) save an uploaded table at once, without a
    review (the demo's seed, benchmarks; the admin stages it with `mapping_table_stage`).

    A file refused as a whole gives INVALID with the reason; bad rows give INVALID with every
    row error; a table identical to the current one gives UNCHANGED; nothing is saved unless
    the whole table is valid.
    """
    outcome = _table_check(integration=integration, filename=filename, data=data)
    if outcome.status != ImportStatus.STAGED:
        return outcome
    version = mapping_rules_replace(
        integration=integration,
        specs=outcome.specs,
        user=user,
        filename=outcome.filename,
        sha256=outcome.sha256,
    )
    return ImportOutcome(
        ImportStatus.SAVED, _saved_message(len(outcome.specs), outcome.filename), [], version
    )


# Drafts nobody published are of no use after a while; each upload clears the stale ones.
DRAFT_MAX_AGE = timedelta(days=7)


def mapping_table_stage(
    *, integration: OAuthIntegration, user, filename: str, data: bytes
) -> ImportOutcome:
    """Read and validate an uploaded table and, when valid and new, keep it as a draft for
    review: nothing changes for participants until `mapping_draft_publish`."""
    outcome = _table_check(integration=integration, filename=filename, data=data)
    if outcome.status != ImportStatus.STAGED:
        return outcome
    MappingDraft.objects.filter(uploaded_at__lt=timezone.now() - DRAFT_MAX_AGE).delete()
    outcome.draft = MappingDraft.objects.create(
        integration=integration,
        uploaded_by=user if getattr(user, "pk", None) else None,
        filename=outcome.filename[:255],
        sha256=outcome.sha256,
        rules=[spec.as_dict() for spec in outcome.specs],
        base_version=outcome.version,
    )
    return outcome


class MappingChangedError(Exception):
    """The mapping changed since the draft was reviewed: review the new differences."""


def draft_specs(draft: MappingDraft | MappingTableVersion) -> list[RuleSpec]:
    return [RuleSpec(**rule) for rule in draft.rules]


def current_specs(integration: OAuthIntegration) -> list[RuleSpec]:
    return mapping_specs_for(integration=integration)


def mapping_draft_publish(*, draft: MappingDraft, user) -> MappingTableVersion:
    """Make a reviewed draft the mapping (a new version) and drop it. Raises
    MappingChangedError when the current version is not the one the review compared with; the
    draft then compares with the new one, for the next review."""
    with transaction.atomic():
        OAuthIntegration.objects.select_for_update().filter(pk=draft.integration_id).first()
        current = _current_version(draft.integration)
        if (current.pk if current else None) == draft.base_version_id:
            version = mapping_rules_replace(
                integration=draft.integration,
                specs=draft_specs(draft),
                user=user,
                filename=draft.filename,
                sha256=draft.sha256,
            )
            draft.delete()
            return version
    draft.base_version = current
    draft.save(update_fields=["base_version"])
    raise MappingChangedError


def mapping_version_restore(*, version: MappingTableVersion, user) -> MappingTableVersion:
    """Make an earlier version's rules the mapping again (recorded as a new version)."""
    specs = [RuleSpec(**rule) for rule in version.rules]
    label = f"restored: {version.filename or 'mapping'} (#{version.pk})"
    return mapping_rules_replace(
        integration=version.integration,
        specs=specs,
        user=user,
        filename=label,
        sha256=version.sha256,
    )


def mapping_version_record(*, integration: OAuthIntegration, user, label: str) -> None:
    """Record the rules as they are now (after an edit in the admin) as the current version."""
    compiled_rules.changed()
    specs = mapping_specs_for(integration=integration)
    rules = [spec.as_dict() for spec in specs]
    current = _current_version(integration)
    if current is not None and current.rules == rules:
        return  # saved without a change
    integration.mapping_versions.filter(is_current=True).update(is_current=False)
    MappingTableVersion.objects.create(
        integration=integration,
        uploaded_by=user if getattr(user, "pk", None) else None,
        filename=label[:255],
        sha256=_specs_sha256(specs),
        rules=rules,
        is_current=True,
    )
