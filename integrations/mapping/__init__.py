"""Profile mapping: rules that turn an IdP profile into campaign variable values.

Pure parts (no database, no HTTP): `paths` (source paths), `transforms`, `countries`,
`coercion`, `apply` (`mapping_apply`), `tables` (validation), `uploads` (reading files safely),
`exports` (template and exports). The database side, rules and versions, is `store`.
"""

from integrations.mapping.apply import (
    MappingResult,
    Problem,
    ProblemCode,
    Profile,
    Rule,
    RuleError,
    mapping_apply,
    mapping_explain,
    rule_compile,
    rules_from_rows,
)

__all__ = [
    "MappingResult",
    "Problem",
    "ProblemCode",
    "Profile",
    "Rule",
    "RuleError",
    "mapping_apply",
    "mapping_explain",
    "rule_compile",
    "rules_from_rows",
]
