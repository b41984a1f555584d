"""The differences between two mapping tables, rule by rule (by target), for the review that
comes before an upload or a restore goes live. Pure."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from integrations.mapping.tables import RuleSpec

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
COMPARED = ("source", "transform", "fallback", "required", "notes")


@dataclass(frozen=True)
class RuleChange:
    target: str
    kind: str  # ADDED, REMOVED or CHANGED
    before: RuleSpec | None
    after: RuleSpec | None
    # For CHANGED: the columns whose value differs.
    columns: tuple[str, ...] = ()


@dataclass
class MappingDiff:
    changes: list[RuleChange] = field(default_factory=list)
    unchanged: int = 0

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def count(self, kind: str) -> int:
        return sum(1 for change in self.changes if change.kind == kind)

    @property
    def added(self) -> int:
        return self.count(ADDED)

    @property
    def removed(self) -> int:
        return self.count(REMOVED)

    @property
    def changed(self) -> int:
        return self.count(CHANGED)


def mapping_diff(*, current: Sequence[RuleSpec], proposed: Sequence[RuleSpec]) -> MappingDiff:
    """What publishing `proposed` changes: rules added, removed or changed (in the proposed
    order, the removed ones last). A rule that only moved is unchanged."""
    before = {spec.target: spec for spec in current}
    diff = MappingDiff()
    for spec in proposed:
        old = before.pop(spec.target, None)
        if old is None:
            diff.changes.append(RuleChange(spec.target, ADDED, None, spec))
            continue
        columns = tuple(c for c in COMPARED if getattr(old, c) != getattr(spec, c))
        if columns:
            diff.changes.append(RuleChange(spec.target, CHANGED, old, spec, columns))
        else:
            diff.unchanged += 1
    diff.changes.extend(RuleChange(t, REMOVED, spec, None) for t, spec in before.items())
    return diff
