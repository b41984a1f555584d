"""Apply a mapping: IdP profile + rules → {variable: value} and a list of problems.

Pure: no database, no HTTP. The login flow, the preview and the test login all call
`mapping_apply`; it never raises on profile data, whatever the IdP sends.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from integrations.mapping.coercion import CoercionError, value_coerce
from integrations.mapping.paths import (
    SECRET_TOKEN_FIELDS,
    PathError,
    ProfilePath,
    path_lookup,
    path_parse,
)
from integrations.mapping.transforms import (
    TransformFailedError,
    TransformSpecError,
    TransformStep,
    is_empty,
    transforms_parse,
)
from integrations.variables import Variable, get_variable, is_valid_variable_name

PROFILE_PARTS = ("id_token", "access_token", "userinfo", "token")
# The keys of the captured-fixture shape (tests/fixtures/idp-profiles), accepted by from_json.
_FIXTURE_PARTS = {
    "id_token_claims": "id_token",
    "access_token_claims": "access_token",
    "userinfo": "userinfo",
    "token_response": "token",
}


class ProblemCode:
    MISSING_REQUIRED = "missing_required"
    TRANSFORM_FAILED = "transform_failed"
    COERCE_FAILED = "coerce_failed"
    INVALID_RULE = "invalid_rule"


@dataclass(frozen=True, slots=True)
class Problem:
    variable: str
    code: str  # a ProblemCode
    message: str  # for staff and logs; may quote a (shortened) profile value
    blocking: bool = False  # the rule is required: the login cannot continue without it


@dataclass(slots=True)
class MappingResult:
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def blocking_problems(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.blocking]

    @property
    def is_complete(self) -> bool:
        """Every required variable has a value."""
        return not self.blocking_problems


@dataclass(frozen=True, slots=True)
class Profile:
    """What the IdP sent, by part: decoded id_token and access-token claims, the profile
    endpoint's answer, and the token response (whose token strings are never read)."""

    id_token: Mapping[str, Any] = field(default_factory=dict)
    access_token: Mapping[str, Any] = field(default_factory=dict)
    userinfo: Mapping[str, Any] = field(default_factory=dict)
    token: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> "Profile":
        """Build from the 4-part shape, the fixture shape, or a plain claims dict (userinfo)."""
        if not isinstance(data, dict):
            raise ValueError("a profile is a JSON object")
        if any(key in data for key in ("id_token_claims", "access_token_claims", "token_response")):
            parts = {part: data.get(key) for key, part in _FIXTURE_PARTS.items()}
        elif data and set(data) <= set(PROFILE_PARTS):
            parts = dict(data)
        else:
            parts = {"userinfo": data}
        cleaned = {}
        for name in PROFILE_PARTS:
            part = parts.get(name)
            if part is None:
                part = {}
            if not isinstance(part, dict):
                raise ValueError(f"the {name} part must be a JSON object")
            if name == "token":
                part = {k: v for k, v in part.items() if k not in SECRET_TOKEN_FIELDS}
            cleaned[name] = part
        return cls(**cleaned)

    def as_parts(self) -> dict[str, Mapping[str, Any]]:
        return {
            "id_token": self.id_token or {},
            "access_token": self.access_token or {},
            "userinfo": self.userinfo or {},
            "token": self.token or {},
        }


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled mapping rule. `broken` is set (and the rest may be empty) when a stored row
    no longer compiles; applying it reports a problem instead of raising."""

    target: str
    variable: Variable | None
    source: ProfilePath | None
    transforms: tuple[TransformStep, ...] = ()
    fallback: ProfilePath | None = None
    required: bool = False
    broken: str = ""


class RuleError(ValueError):
    """A rule row that does not compile; `code` and `column` say where and why."""

    def __init__(self, message: str, *, code: str, column: str) -> None:
        super().__init__(message)
        self.code = code
        self.column = column


def rule_compile(
    *, target: str, source: str, transform: str = "", fallback: str = "", required: bool = False
) -> Rule:
    """Compile one row; raises RuleError. Cached: the login flow compiles rows on every login."""
    return _rule_compile(target, source, transform or "", fallback or "", bool(required))


@lru_cache(maxsize=4096)
def _rule_compile(target: str, source: str, transform: str, fallback: str, required: bool) -> Rule:
    if not is_valid_variable_name(target):
        raise RuleError(
            f"“{target}” is not a valid variable name (lowercase letters, digits, _)",
            code="invalid_variable_name",
            column="field",
        )
    try:
        source_path = path_parse(text=source)
    except PathError as error:
        raise RuleError(
            f"malformed path “{source}”: {error}", code="malformed_path", column="source"
        ) from None
    fallback_path = None
    if fallback and fallback.strip():
        try:
            fallback_path = path_parse(text=fallback)
        except PathError as error:
            raise RuleError(
                f"malformed fallback path “{fallback}”: {error}",
                code="malformed_fallback",
                column="fallback",
            ) from None
    try:
        steps = transforms_parse(text=transform)
    except TransformSpecError as error:
        raise RuleError(str(error), code=error.code, column="transform") from None
    return Rule(
        target=target,
        variable=get_variable(target),
        source=source_path,
        transforms=steps,
        fallback=fallback_path,
        required=required,
    )


class RuleRow(Protocol):
    """A MappingRule, or anything with its columns."""

    target: str
    source: str
    transform: str
    fallback: str
    required: bool


def rules_from_rows(*, rows: Iterable[RuleRow]) -> list[Rule]:
    """Compile stored rows (MappingRule instances). Never raises: a row that no longer compiles
    becomes a broken Rule that reports an `invalid_rule` problem when applied."""
    rules = []
    for row in rows:
        try:
            rules.append(
                rule_compile(
                    target=row.target,
                    source=row.source,
                    transform=row.transform,
                    fallback=row.fallback,
                    required=row.required,
                )
            )
        except RuleError as error:
            rules.append(
                Rule(
                    target=row.target,
                    variable=None,
                    source=None,
                    required=row.required,
                    broken=str(error),
                )
            )
    return rules


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule's run, for the preview: what was found, where, and what came out."""

    rule: Rule
    found: Any
    found_at: str  # the path text that gave `found`, or ""
    value: Any
    problem: Problem | None


def _rule_run(rule: Rule, parts: dict[str, Mapping[str, Any]]) -> tuple:
    """(found, found_at, value, problem) for one rule; plain tuples keep the login path cheap."""
    target = rule.target
    if rule.broken:
        problem = Problem(target, ProblemCode.INVALID_RULE, rule.broken, rule.required)
        return None, "", None, problem
    found = path_lookup(path=rule.source, parts=parts)
    found_at = rule.source.text
    if is_empty(found):
        found_at = ""
        if rule.fallback is not None:
            found = path_lookup(path=rule.fallback, parts=parts)
            found_at = "" if is_empty(found) else rule.fallback.text
    try:
        value = found
        for step in rule.transforms:
            value = step.function(value)
    except TransformFailedError as error:
        problem = Problem(target, ProblemCode.TRANSFORM_FAILED, str(error), rule.required)
        return found, found_at, None, problem
    try:
        value = value_coerce(value=value, variable=rule.variable)
    except CoercionError as error:
        message = f"{target}: {error}"
        problem = Problem(target, ProblemCode.COERCE_FAILED, message, rule.required)
        return found, found_at, None, problem
    if value is None and rule.required:
        sources = rule.source.text + (f" or {rule.fallback.text}" if rule.fallback else "")
        problem = Problem(
            target, ProblemCode.MISSING_REQUIRED, f"no value for {target} in {sources}", True
        )
        return found, found_at, None, problem
    return found, found_at, value, None


def mapping_explain(*, profile: Profile, rules: Sequence[Rule]) -> list[RuleOutcome]:
    """Every rule's outcome, in order (for the preview)."""
    parts = profile.as_parts()
    return [RuleOutcome(rule, *_rule_run(rule, parts)) for rule in rules]


def mapping_apply(*, profile: Profile, rules: Sequence[Rule]) -> MappingResult:
    """The values the rules produce from the profile, and the problems met on the way.

    Values are coerced to each variable's type and length; a value that does not fit is left
    out with a problem. Required rules without a value give blocking problems.
    """
    parts = profile.as_parts()
    result = MappingResult()
    values, problems = result.values, result.problems
    for rule in rules:
        _found, _found_at, value, problem = _rule_run(rule, parts)
        if problem is not None:
            problems.append(problem)
        elif value is not None:
            values[rule.target] = value
    return result
