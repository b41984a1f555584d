"""What the callback does with the IdP's answer: profile, identity, mapping, participant.

Kept apart from the views so that each step is one small function:

- `profile_parts()` assembles the validated sources the mapping reads (`id_token`,
  `access_token`, `userinfo`, `token`), with token strings left out;
- `identity_of()` picks the stable identity, (issuer or "integration:<id>", identifier), from
  where the integration says (`IdentifierSource`), read with the mapping's own paths; never the
  e-mail (OIDC Core §5.7);
- `profile_map()` is the one call into the mapping;
- `participant_upsert()` creates or updates the Participant;
- `profile_redact()` prepares a profile for an administrator's eyes (test login).
"""

import re
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from integrations.mapping import Profile, mapping_apply
from integrations.mapping.paths import PathError, ProfilePath, path_lookup, path_parse
from integrations.mapping.store import mapping_rules_for
from integrations.models import IdentifierSource, OAuthIntegration

from .models import Participant

SUBJECT_MAX_LENGTH = 255
# Token response members that are credentials: never kept in the profile.
_TOKEN_MEMBERS = frozenset({"access_token", "id_token", "refresh_token"})
# Claim names whose values an administrator must not see in a test login.
_SECRET_NAME = re.compile(
    r"(token|secret|password|passwd|^code$|^nonce$|_hash$|^signature$|^session_state$|^sid$)",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


class IdentityError(Exception):
    """The IdP's answer names nobody we can recognise again (no usable `sub`)."""


def profile_parts(
    *,
    token_response: dict,
    id_token_claims: dict | None,
    access_token_claims: dict | None,
    userinfo: dict | None,
) -> dict[str, dict]:
    """The profile the mapping reads, one dict per source (SPEC §4)."""
    return {
        "id_token": dict(id_token_claims or {}),
        "access_token": dict(access_token_claims or {}),
        "userinfo": dict(userinfo or {}),
        "token": _without_tokens(token_response),
    }


def _without_tokens(value: Any) -> Any:
    """The token answer without its token strings, at any depth: Slack's `authed_user` holds a
    user token of its own, which must no more reach a form than the top-level one."""
    if isinstance(value, dict):
        return {k: _without_tokens(v) for k, v in value.items() if k not in _TOKEN_MEMBERS}
    if isinstance(value, list):
        return [_without_tokens(item) for item in value]
    return value


def userinfo_matches(*, id_token_claims: dict | None, userinfo: dict) -> bool:
    """OIDC Core §5.3.2: a userinfo `sub` other than the id_token's makes the userinfo unusable.

    A profile without any `sub` is a REST "get profile" answer (Salesforce's identity URL, SAP
    CDC's account info), not OIDC userinfo: it is kept, having been fetched with the access
    token of this very exchange.
    """
    if not id_token_claims or "sub" not in userinfo:
        return True
    return userinfo["sub"] == id_token_claims.get("sub")


def _subject(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > SUBJECT_MAX_LENGTH:
        return None
    return value


@dataclass(frozen=True)
class Identity:
    issuer_key: str
    subject: str


# Where a REST profile without `sub` keeps its id (Facebook, GitHub, SAP CDC, Salesforce).
PROFILE_IDENTIFIERS = ("sub", "id", "UID", "user_id")


def identifier_path(source: str, field: str) -> ProfilePath:
    """The mapping path of an identifier setting: `token` + `athlete.id` is `token.athlete.id`,
    so that a mapping table and the identity read the same value. Raises PathError."""
    field = field.strip()
    return path_parse(text=f"{source}{'' if field.startswith('[') else '.'}{field}")


def identifier_paths(source: str, field: str) -> list[ProfilePath]:
    """The paths an identifier setting tries, in order (empty field: the source's default)."""
    if field.strip():
        return [identifier_path(source, field)]
    if source == IdentifierSource.USERINFO:
        return [identifier_path(source, name) for name in PROFILE_IDENTIFIERS]
    if source == IdentifierSource.TOKEN:
        return []  # a token answer has no standard place for the user: the field is required
    return [identifier_path(source, "sub")]


def identity_of(
    *,
    parts: dict[str, dict],
    issuer: str,
    integration_id: int,
    source: str = IdentifierSource.AUTOMATIC,
    field: str = "",
) -> Identity:
    """The participant's stable identity, from where the integration says it comes.

    Automatic: the id_token's `sub` when there is an id_token (validated); otherwise the profile
    endpoint's `sub`, or the `id` / `UID` / `user_id` of a REST profile. Never the access
    token's claims unless the integration names them (they are then held to RFC 9068 by the
    callback), and never an e-mail address.
    """
    issuer_key = issuer or f"integration:{integration_id}"
    if source == IdentifierSource.AUTOMATIC:
        source = IdentifierSource.ID_TOKEN if parts["id_token"] else IdentifierSource.USERINFO
        field = ""
    try:
        paths = identifier_paths(source, field)
    except PathError as exc:
        raise IdentityError(f"unusable identifier field: {exc}") from None
    for path in paths:
        subject = _subject(path_lookup(path=path, parts=parts))
        if subject:
            return Identity(issuer_key=issuer_key, subject=subject)
    raise IdentityError("no usable subject")


# ---------------------------------------------------------------------------- mapping
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


# ---------------------------------------------------------------------------- participant
def participant_upsert(*, integration: OAuthIntegration, identity: Identity) -> int:
    """Create or update the participant known by `identity`; returns their id.

    One `INSERT … ON CONFLICT (account, issuer, subject) DO UPDATE` (PostgreSQL, SQLite): two
    first logins of the same person at once still make one participant, without the lock,
    read and savepoint a `get_or_create` takes.
    """
    participant = Participant(
        account_id=integration.account_id,
        integration=integration,
        issuer_key=identity.issuer_key,
        subject=identity.subject,
        last_login_at=timezone.now(),
    )
    Participant.objects.bulk_create(
        [participant],
        update_conflicts=True,
        unique_fields=["account", "issuer_key", "subject"],
        update_fields=["integration", "last_login_at"],
    )
    return participant.pk


# ---------------------------------------------------------------------------- test login
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
