"""Profile mapping: rules that turn an IdP profile into campaign variable values.

Pure parts (no database, no HTTP): `paths` (source paths), `transforms`, `coercion`, `apply`
(`mapping_apply`), `tables` (reading, validating and writing mapping tables). The database side,
saving a table as rules and versions, is `store`.
"""

from .apply import (
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
