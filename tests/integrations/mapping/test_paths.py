"""Source paths: parsed once at upload, looked up at login."""

import pytest

from integrations.mapping.paths import PathError, path_lookup, path_parse


@pytest.mark.parametrize(
    ("text", "source", "segments"),
    [
        ("given_name", None, ("given_name",)),
        ("address.postal_code", None, ("address", "postal_code")),
        ("emails[0].value", None, ("emails", 0, "value")),
        ("userinfo.phone_number", "userinfo", ("phone_number",)),
        ("id_token.email", "id_token", ("email",)),
        ("access_token.loyalty_id", "access_token", ("loyalty_id",)),
        ("token.scope", "token", ("scope",)),
        ('["https://example.com/claims/loyalty"]', None, ("https://example.com/claims/loyalty",)),
        (
            'id_token["https://example.com/address"].postal_code',
            "id_token",
            ("https://example.com/address", "postal_code"),
        ),
        ("['single.quoted'][2]", None, ("single.quoted", 2)),
        ('["say \\"hi\\""]', None, ('say "hi"',)),
        ("cognito:username", None, ("cognito:username",)),
        ("custom:points", None, ("custom:points",)),
        ('token["not-before-policy"]', "token", ("not-before-policy",)),
        ("token.not-before-policy", "token", ("not-before-policy",)),
        ("realm_access.roles[1]", None, ("realm_access", "roles", 1)),
        ("userinfo", None, ("userinfo",)),  # a bare part name is an ordinary claim
        ("  given_name  ", None, ("given_name",)),
    ],
)
def test_valid_paths_parse(text, source, segments):
    path = path_parse(text=text)
    assert path.source == source
    assert path.segments == segments


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("address..postal_code", "empty segment between the dots"),
        (".email", "starts with a dot"),
        ("email.", "ends with a dot"),
        ('["https://example.com/loyalty_id"', "never closed"),
        ('["https://example.com/loyalty_id', "never closed"),
        ("address[x].country", "non-negative integer"),
        ("emails[-1]", "non-negative integer"),
        ("emails[0", "never closed"),
        ('[""]', "empty quoted segment"),
        ("given name", "not allowed"),
        ("a.[0]", "no dot"),
        ("id_token.", "nothing after"),
        ("token.access_token", "never mapped"),
        ("token.refresh_token", "never mapped"),
        ("a" * 501, "longer than 500"),
        (".".join(["a"] * 40), "more than 32"),
    ],
)
def test_malformed_paths_are_refused_with_a_reason(text, reason):
    with pytest.raises(PathError, match=reason):
        path_parse(text=text)


PARTS = {
    "userinfo": {"email": "ui@example.com", "address": {"country": "fr"}, "nothing": None},
    "id_token": {
        "email": "id@example.com",
        "nothing": "from id_token",
        "https://example.com/address": {"postal_code": "75005"},
        "emails": ["first@example.com", "second@example.com"],
    },
    "access_token": {"loyalty_id": "L-1", "email": "at@example.com"},
    "token": {"scope": "openid", "access_token": "<secret>", "not-before-policy": 0},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("email", "ui@example.com"),  # userinfo over id_token over access token
        ("id_token.email", "id@example.com"),
        ("access_token.email", "at@example.com"),
        ("loyalty_id", "L-1"),  # only in the access token
        ("nothing", "from id_token"),  # a null in userinfo does not hide the id_token claim
        ('["https://example.com/address"].postal_code', "75005"),
        ('id_token["https://example.com/address"].postal_code', "75005"),
        ('userinfo["https://example.com/address"].postal_code', None),
        ("emails[1]", "second@example.com"),
        ("emails[2]", None),
        ("emails.first", None),
        ("email[0]", None),
        ("address.country.code", None),
        ("missing.deeper", None),
        ("token.scope", "openid"),
        ('token["not-before-policy"]', 0),
        ("token", None),
    ],
)
def test_lookup(text, expected):
    assert path_lookup(path=path_parse(text=text), parts=PARTS) == expected


def test_token_strings_are_never_read_even_if_a_path_gets_through():
    path = path_parse(text="token.scope")
    forged = type(path)(text="token.access_token", source="token", segments=("access_token",))
    assert path_lookup(path=path, parts=PARTS) == "openid"
    assert path_lookup(path=forged, parts=PARTS) is None
