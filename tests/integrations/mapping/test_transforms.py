"""Transforms: refused at upload when unknown or malformed; applied cheaply at login."""

import pytest

from integrations.mapping.transforms import (
    TransformFailedError,
    TransformSpecError,
    transforms_parse,
    transforms_run,
)


def run(spec, value):
    return transforms_run(steps=transforms_parse(text=spec), value=value)


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("", " as is ", " as is "),
        ("strip", "  Zoë ", "Zoë"),
        ("lower", "Zoe@Example.BE", "zoe@example.be"),
        ("upper", "loy-17", "LOY-17"),
        ("title", "zoë dupont-müller", "Zoë Dupont-Müller"),
        ("strip|lower", "  A@B.C ", "a@b.c"),
        ("strip | lower ", "  A@B.C ", "a@b.c"),  # spaces around step names are fine
        ("strip", ["  a", "b "], ["a", "b"]),  # strings of a list, one by one
        ("strip", 12, 12),  # not text: unchanged
        ("date:%d/%m/%Y", "14/03/1987", "1987-03-14"),
        ("date:%m/%d/%Y", "07/23/1994", "1994-07-23"),
        ("date:%Y-%m-%d", "1992-11-05", "1992-11-05"),
        ("date:%Y-%m-%dT%H:%M:%S.%fZ", "2025-05-28T16:02:11.482Z", "2025-05-28"),
        ("date:%d/%m/%Y", None, None),
        ("map:male=M;female=F", "male", "M"),
        ("map:male=M;female=F", "FEMALE", "F"),  # case-insensitive when no exact pair
        ("map:male=M;female=F", "other", "other"),  # no pair: unchanged
        ("map:m=m;f=f;u=x", "u", "x"),
        ("map:true=yes;false=no", True, "yes"),
        ("map:1=gold", 1, "gold"),
        ("map:a=b;", "a", "b"),  # a trailing ; is harmless
        ("map:Belgique=BE;België=BE|country", "België", "BE"),
        ("split:-:0", "fr-BE", "fr"),
        ("split:-:0", "fr", "fr"),
        ("split:-:1", "fr", None),  # no such part: no value
        ("split:, :-1", "Dublin, Ireland", "Ireland"),
        ("split:, :-1|country", "Dublin, Ireland", "IE"),
        ("split:\\|:1", "a|b", "b"),  # an escaped pipe inside an argument
        ("join:, ", ["Liège", "Namur"], "Liège, Namur"),
        ("join:;", ["a", None, 2, True], "a;2;true"),
        ("join:,", "already text", "already text"),
        ("join:,", [], None),
        ("bool", True, True),
        ("bool", False, False),
        ("bool", "true", True),
        ("bool", "TRUE", True),
        ("bool", "1", True),
        ("bool", 1, True),
        ("bool", "yes", True),
        ("bool", "false", False),
        ("bool", "0", False),
        ("bool", " No ", False),
        ("bool", None, None),
        ("country", "Belgique", "BE"),
        ("country", "België", "BE"),
        ("country", "Belgium", "BE"),
        ("country", "Belgien", "BE"),
        ("country", "BEL", "BE"),
        ("country", "be", "BE"),
        ("country", "FRA", "FR"),
        ("country", "fr", "FR"),
        ("country", "Ireland", "IE"),
        ("country", "Allemagne", "DE"),
        ("country", "Côte d'Ivoire", "CI"),
        ("phone", "+32 470 12 34 56", "+32470123456"),
        ("phone", "+33 6 12 34 56 78", "+33612345678"),
        ("phone", "+32 (2) 555 01 47", "+3225550147"),
        ("phone", "+32475112233", "+32475112233"),
        ("phone", "0486 12 34 56", "0486 12 34 56"),  # no country: kept as given
        ("phone:BE", "0486 12 34 56", "+32486123456"),
        ("phone", "not a number", "not a number"),
        ("default:fr", None, "fr"),
        ("default:fr", "", "fr"),
        ("default:fr", "nl", "nl"),
        ("lower|default:fr", None, "fr"),
        ("default:no|bool", None, False),
    ],
)
def test_transforms(spec, value, expected):
    assert run(spec, value) == expected


@pytest.mark.parametrize(
    ("spec", "value", "message"),
    [
        ("date:%Y-%m-%d", "0000-07-02", "year 0000 means the year is withheld"),
        ("date:%d/%m/%Y", "1987-03-14", "cannot parse"),
        ("date:%d/%m/%Y", 1987, "needs text"),
        ("bool", "maybe", "cannot read"),
        ("bool", 2, "cannot read"),
        ("country", "Atlantis", "does not know"),
        ("country", 32, "needs text"),
        ("split:-:0", ["a-b"], "needs text"),
        ("phone", {"number": "1"}, "needs text"),
    ],
)
def test_a_failing_transform_says_why(spec, value, message):
    with pytest.raises(TransformFailedError, match=message):
        run(spec, value)


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        ("capitalize", "unknown_transform", "unknown transform “capitalize”"),
        ("strip|capitalize", "unknown_transform", "capitalize"),
        ("strip|", "malformed_transform", "empty step after the last"),
        ("|strip", "malformed_transform", "empty step at step 1"),
        ("strip||lower", "malformed_transform", "empty step"),
        ("date:", "bad_transform_argument", "needs the input format"),
        ("date", "bad_transform_argument", "needs the input format"),
        ("date:dd/mm/yyyy", "bad_transform_argument", "no % directive"),
        ("date:%Q", "bad_transform_argument", "not a valid format"),
        ("map:male=M;female", "bad_transform_argument", "“female” has no “=”"),
        ("map:", "bad_transform_argument", "needs pairs"),
        ("map:a=b;a=c", "bad_transform_argument", "twice"),
        ("split:-", "bad_transform_argument", "separator and an index"),
        ("split::0", "bad_transform_argument", "needs a separator"),
        ("split:-:first", "bad_transform_argument", "must be an integer"),
        ("join", "bad_transform_argument", "needs a separator"),
        ("default:", "bad_transform_argument", "needs a value"),
        ("phone:Belgium", "bad_transform_argument", "default region"),
        ("strip:all", "bad_transform_argument", "takes no argument"),
        ("x" * 501, "malformed_transform", "longer than 500"),
    ],
)
def test_bad_transform_cells_are_refused_at_upload(spec, code, message):
    with pytest.raises(TransformSpecError, match=message) as caught:
        transforms_parse(text=spec)
    assert caught.value.code == code


def test_a_transform_name_is_case_insensitive_and_a_bare_colon_is_ignored():
    assert run("LOWER|Strip", " A ") == "a"
    assert run("lower:", "A") == "a"


@pytest.mark.parametrize(
    "number",
    [
        "+32 470 12 34 56",
        "+33 6 12 34 56 78",
        "+1-202-555-0143",
        "+44 20 7946 0958",
        "+32.2.555.01.47",
    ],
)
def test_the_phone_shortcut_agrees_with_phonenumbers(number):
    import phonenumbers

    parsed = phonenumbers.parse(number, None)
    expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    assert run("phone", number) == expected
