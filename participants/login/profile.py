"""What a login's IdP profile becomes on our side: the campaign variables the mapping derives
from it (`profile_map()`, the one call into the mapping) and the copy an administrator may see
(`profile_redact()`: test login, the remembered login's stored profile)."""

import re
from dataclasses import dataclass, field
from typing import Any

from integrations.mapping import Profile, mapping_apply
from integrations.mapping.store import mapping_rules_for
from integrations.models import OAuthIntegration

# Claim names whose values an administrator must not see in a test login.
_SECRET_NAME = re.compile(
    r"(token|secret|password|passwd|^code$|^nonce$|_hash$|^signature$|^session_state$|^sid$)",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


@dataclass
class MappedProfile:
    values: dict[str, Any] = field(default_factory=dict)
    # Every variable the mapping reads from the IdP, with a value or not: a participant who
    # fills one in that the IdP did not have changes their profile too (profile.updated).
    targets: list[str] = field(default_factory=list)
    # Variables of required rules that gave no usable value: the login cannot go on.
    missing_required: list[str] = field(default_factory=list)
    # Every problem, in words for staff (test login page, logs); may quote profile values.
    problems: list[str] = field(default_factory=list)


def profile_map(*, parts: dict[str, dict], integration: OAuthIntegration) -> MappedProfile:
    """Apply the integration's mapping to the profile: the one call into the mapping."""
    rules = mapping_rules_for(integration=integration)
    result = mapping_apply(profile=Profile(**parts), rules=rules)
    return MappedProfile(
        values=dict(result.values),
        targets=list(dict.fromkeys(rule.target for rule in rules)),
        missing_required=[problem.variable for problem in result.blocking_problems],
        problems=[problem.message for problem in result.problems],
    )


def profile_redact(value: Any, *, name: str = "") -> Any:
    """A copy with the values of token- and secret-like members replaced; names are kept."""
    if name and _SECRET_NAME.search(name) and not isinstance(value, dict | list):
        return REDACTED
    if isinstance(value, dict):
        return {k: profile_redact(v, name=str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [profile_redact(v, name=name) for v in value]
    if isinstance(value, str) and value.count(".") == 2 and value.startswith("eyJ"):
        return REDACTED  # a JWT under an innocent name
    return value
