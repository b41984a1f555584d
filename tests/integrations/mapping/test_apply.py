"""mapping_apply: pure, never raises on profile data, gives exactly the fixtures' values."""

import json
from pathlib import Path

import pytest

from integrations.mapping import (
    ProblemCode,
    Profile,
    Rule,
    mapping_apply,
    mapping_explain,
    rule_compile,
    rules_from_rows,
)
from integrations.mapping.tables import table_validate
from integrations.mapping.uploads import table_read

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PROFILES = sorted((FIXTURES / "idp-profiles").glob("*.json"))
GOOD_TABLES = ["auth0-good", "keycloak-good"]


def table_rules(name: str) -> list[Rule]:
    path = FIXTURES / "mapping-tables" / f"{name}.csv"
    validation = table_validate(
        rows=table_read(filename=path.name, data=path.read_bytes()),
        custom_variables=frozenset({"loyalty_id"}),
    )
    assert validation.is_valid, validation.errors
    return [
        rule_compile(
            target=spec.target,
            source=spec.source,
            transform=spec.transform,
            fallback=spec.fallback,
            required=spec.required,
        )
        for spec in validation.specs
    ]


def fixture_profile(path: Path) -> Profile:
    return Profile.from_json(json.loads(path.read_text()))


@pytest.mark.parametrize("table", GOOD_TABLES)
def test_good_tables_give_exactly_the_expected_values(table):
    expected = json.loads((FIXTURES / "mapping-tables" / f"{table}.expected.json").read_text())
    profile = fixture_profile(FIXTURES / expected["fixture"])

    result = mapping_apply(profile=profile, rules=table_rules(table))

    assert result.values == expected["values"]
    assert [(p.variable, p.code) for p in result.problems] == [
        (p["field"], p["kind"].replace(" ", "_")) for p in expected["problems"]
    ]
    assert result.is_complete


def test_withheld_birth_year_is_a_problem_and_no_value():
    result = mapping_apply(
        profile=fixture_profile(FIXTURES / "idp-profiles" / "auth0.json"),
        rules=table_rules("auth0-good"),
    )
    (problem,) = result.problems
    assert "birthdate" not in result.values
    assert problem.code == ProblemCode.TRANSFORM_FAILED
    assert "year 0000 means the year is withheld" in problem.message
    assert problem.blocking is False


@pytest.mark.parametrize("table", GOOD_TABLES)
@pytest.mark.parametrize("profile_path", PROFILES, ids=[p.stem for p in PROFILES])
def test_every_fixture_profile_maps_without_a_crash(table, profile_path):
    result = mapping_apply(profile=fixture_profile(profile_path), rules=table_rules(table))
    for variable, value in result.values.items():
        assert isinstance(value, str | bool), (variable, value)
    # Whatever is missing is reported, never raised.
    assert all(problem.message for problem in result.problems)


def rule(target, source, transform="", fallback="", required=False):
    return rule_compile(
        target=target, source=source, transform=transform, fallback=fallback, required=required
    )


def test_fallback_is_used_when_the_source_is_missing_and_transforms_run_on_it():
    profile = Profile(userinfo={"nickname": " Zed "})
    result = mapping_apply(
        profile=profile, rules=[rule("firstname", "given_name", "strip", "nickname")]
    )
    assert result.values == {"firstname": "Zed"}


def test_missing_required_value_is_a_blocking_problem():
    result = mapping_apply(profile=Profile(), rules=[rule("email", "email", required=True)])
    assert result.values == {}
    (problem,) = result.problems
    assert (problem.variable, problem.code, problem.blocking) == ("email", "missing_required", True)
    assert not result.is_complete
    assert result.blocking_problems == [problem]


def test_missing_optional_value_is_silent():
    result = mapping_apply(profile=Profile(), rules=[rule("city", "address.locality")])
    assert result.values == {} and result.problems == []


@pytest.mark.parametrize(
    ("target", "claim", "expected"),
    [
        ("firstname", "x" * 300, "x" * 100),  # text is capped to the variable's length
        ("loyalty_id", 1250, "1250"),  # custom variables are text
        ("zipcode", "01000", "01000"),  # stays text: leading zeros survive
        ("zipcode", 1000.0, "1000"),
        ("optin_newsletter", "1", True),
        ("optin_newsletter", "false", False),
        ("birthdate", "1992-11-05", "1992-11-05"),
        ("birthdate", "1992-11-05T00:00:00", "1992-11-05"),
        ("country", "be", "BE"),
        ("country", "Belgique", "BE"),
        ("language", "fr_BE", "fr"),
        ("language", "nl-be", "nl"),
        ("language", "FR", "fr"),
        ("gender", "f", "f"),
        ("gender", "M", "M"),  # choices are compared case-insensitively
        ("email", " a@example.com ", "a@example.com"),
        ("phone", "+32 470 12 34 56", "+32 470 12 34 56"),
        ("city", "  ", None),
        ("city", "<script>alert(1)</script>", "<script>alert(1)</script>"),  # escaped when shown
    ],
)
def test_values_are_coerced_to_the_variable_type(target, claim, expected):
    result = mapping_apply(
        profile=Profile(userinfo={"claim": claim}), rules=[rule(target, "claim")]
    )
    assert result.values.get(target) == expected
    assert result.problems == []


@pytest.mark.parametrize(
    ("target", "claim", "message"),
    [
        ("email", "not-an-email", "not an e-mail address"),
        ("email", "a@" + "b" * 260 + ".com", "longer than 254"),
        ("email", "two@at@example.com", "not an e-mail address"),
        ("email", "no-domain-dot@example", "not an e-mail address"),
        ("birthdate", "14/03/1987", "not an ISO date"),
        ("birthdate", "0000-07-02", "not an ISO date"),
        ("gender", "male", "is not one of m, f, x"),
        ("country", "Atlantis", "not a known country"),
        ("optin_newsletter", "perhaps", "not yes/no"),
        ("language", "français", "not a language code"),
        ("phone", "call me", "not a phone number"),
        ("phone", "+32 " + "1" * 40, "longer than 32"),
        ("city", ["Liège", "Namur"], "is a list"),
        ("city", {"name": "Liège"}, "is an object"),
    ],
)
def test_a_value_that_cannot_be_coerced_is_dropped_with_a_problem(target, claim, message):
    result = mapping_apply(
        profile=Profile(userinfo={"claim": claim}), rules=[rule(target, "claim", required=True)]
    )
    assert target not in result.values
    (problem,) = result.problems
    assert problem.code == ProblemCode.COERCE_FAILED
    assert message in problem.message
    assert problem.blocking  # the rule is required


def test_hostile_profile_values_never_raise():
    nasty = {"a": [[[]]], "b": {"c": None}, "d": float("nan"), "e": "x" * 100_000, "f": -1}
    rules = [
        rule("firstname", "a[0]", "strip|lower|title"),
        rule("lastname", "b.c", "map:a=b"),
        rule("optin_partners", "d", "bool"),
        rule("city", "e", "split:x:5000|strip"),
        rule("gender", "f", "map:1=m"),
        rule("birthdate", "e", "date:%Y"),
        rule("phone", "e", "phone"),
        rule("country", "a", "join:,|country"),
    ]
    result = mapping_apply(profile=Profile(userinfo=nasty), rules=rules)
    assert set(result.values) <= {"city"}


def test_profile_from_json_accepts_the_four_part_shape_the_fixture_shape_and_plain_claims():
    parts = Profile.from_json({"id_token": {"sub": "1"}, "userinfo": {"email": "u@x.be"}})
    assert parts.id_token == {"sub": "1"} and parts.userinfo == {"email": "u@x.be"}
    plain = Profile.from_json({"email": "u@x.be", "sub": "1"})
    assert plain.userinfo == {"email": "u@x.be", "sub": "1"} and plain.id_token == {}
    fixture = Profile.from_json(json.loads((FIXTURES / "idp-profiles" / "google.json").read_text()))
    assert fixture.userinfo["email"] and "access_token" not in fixture.token
    with pytest.raises(ValueError, match="JSON object"):
        Profile.from_json(["not", "an", "object"])
    with pytest.raises(ValueError, match="userinfo part"):
        Profile.from_json({"userinfo": "text"})


def test_token_strings_never_reach_a_value():
    profile = Profile.from_json({"token": {"access_token": "secret", "scope": "openid"}})
    assert "access_token" not in profile.token
    assert mapping_apply(profile=profile, rules=[rule("city", "token.scope")]).values == {
        "city": "openid"
    }


class Row:
    def __init__(self, target, source, transform="", fallback="", required=False):
        self.target, self.source, self.transform = target, source, transform
        self.fallback, self.required = fallback, required


def test_rules_from_rows_turns_a_broken_stored_row_into_a_problem_not_an_exception():
    rules = rules_from_rows(
        rows=[Row("email", "email"), Row("city", "address..locality", required=True)]
    )
    result = mapping_apply(profile=Profile(userinfo={"email": "a@b.be"}), rules=rules)
    assert result.values == {"email": "a@b.be"}
    (problem,) = result.problems
    assert problem.code == ProblemCode.INVALID_RULE and problem.blocking


def test_explain_shows_where_each_value_came_from():
    rules = [rule("firstname", "given_name", "strip", "nickname"), rule("city", "locality")]
    first, second = mapping_explain(profile=Profile(id_token={"nickname": " Z "}), rules=rules)
    assert (first.found, first.found_at, first.value) == (" Z ", "nickname", "Z")
    assert (second.found, second.found_at, second.value, second.problem) == (None, "", None, None)


def test_compiled_rules_are_cached_and_immutable():
    assert rule("email", "email", "lower") is rule("email", "email", "lower")
    with pytest.raises(AttributeError):
        rule("email", "email").target = "city"
