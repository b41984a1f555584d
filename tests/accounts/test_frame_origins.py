"""The sites allowed to frame campaigns: exact https origins, written the way CSP needs them,
with an error that says what to change for anything else."""

import pytest
from django.core.exceptions import ValidationError

from accounts.origins import (
    MAX_FRAME_ORIGINS,
    FrameOriginsField,
    frame_origin_parse,
    frame_origins_in_force,
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("https://shop.example.com", "https://shop.example.com"),
        ("  HTTPS://Shop.Example.COM/  ", "https://shop.example.com"),
        ("https://shop.example.com:443", "https://shop.example.com"),
        ("https://shop.example.com:8443", "https://shop.example.com:8443"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("https://203.0.113.7", "https://203.0.113.7"),
        ("https://[2001:DB8::1]:8443", "https://[2001:db8::1]:8443"),
    ],
)
def test_a_site_is_stored_as_its_exact_origin(typed, stored):
    assert frame_origin_parse(typed) == stored


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("shop.example.com", "write the whole address, starting with https://"),
        ("http://shop.example.com", "use https://"),
        ("ftp://shop.example.com", "use https://"),
        ("https://*.example.com", "wildcards are not allowed"),
        ("*", "wildcards are not allowed"),
        ("https://shop.example.com/contest", "without a path: https://shop.example.com."),
        ("https://shop.example.com/?a=1", "without a path"),
        ("https://shop.example.com/#top", "without a path"),
        ("https://user:pw@shop.example.com", "no user name or password"),
        ("https://shop.example.com:99999", "is not a valid address"),
        ("https://shop.example.com:0", "the port must be between 1 and 65535"),
        ("https://shop example.com", "does not name a valid host"),
        # Anything that could end the directive or add a source is not a host.
        ("https://shop.example.com;script-src", "does not name a valid host"),
        ("https://shop.example.com,https://x.example.org", "does not name a valid host"),
        ("https://'self'", "does not name a valid host"),
        ("https://127.1", "does not name a valid host"),
        ("https://-shop.example.com", "does not name a valid host"),
    ],
)
def test_anything_but_an_exact_https_origin_is_refused_with_what_to_change(typed, says):
    with pytest.raises(ValidationError) as refused:
        frame_origin_parse(typed)
    message = refused.value.messages[0]
    assert says in message
    assert typed.strip() in message or says == "does not name a valid host"


@pytest.mark.parametrize(
    "typed", ["http://localhost:9200", "http://127.0.0.1:9200", "http://[::1]:9"]
)
def test_plain_http_on_loopback_is_for_development_only(settings, typed):
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = True
    assert frame_origin_parse(typed) == typed
    settings.ALLOW_HTTP_LOOPBACK_ENDPOINTS = False
    with pytest.raises(ValidationError, match="use https://"):
        frame_origin_parse(typed)
    assert frame_origins_in_force([typed, "https://shop.example.com"]) == [
        "https://shop.example.com"
    ]


def test_the_form_field_lists_every_wrong_line_at_once_and_drops_blank_lines_and_repeats():
    field = FrameOriginsField(required=False)
    assert field.clean(
        "https://a.example.com\n\nhttps://A.example.com/\nhttps://b.example.org"
    ) == [
        "https://a.example.com",
        "https://b.example.org",
    ]
    with pytest.raises(ValidationError) as refused:
        field.clean("https://a.example.com\nhttp://b.example.org\nc.example.net")
    assert len(refused.value.messages) == 2
    assert "http://b.example.org" in refused.value.messages[0]
    assert "c.example.net" in refused.value.messages[1]


def test_at_most_twenty_sites():
    sites = [f"https://shop{n}.example.com" for n in range(MAX_FRAME_ORIGINS + 1)]
    with pytest.raises(ValidationError, match="List at most 20 sites"):
        FrameOriginsField().clean("\n".join(sites))
    assert len(FrameOriginsField().clean("\n".join(sites[:-1]))) == MAX_FRAME_ORIGINS


@pytest.mark.django_db
@pytest.mark.parametrize(
    "stored",
    [
        ["https://Shop.example.com"],
        ["https://shop.example.com", "https://shop.example.com"],
        ["https://shop.example.com/path"],
        "https://shop.example.com",
        [42],
    ],
)
def test_a_model_only_keeps_origins_in_their_exact_form(account, stored):
    account.embed_allowed_origins = stored
    with pytest.raises(ValidationError) as refused:
        account.full_clean()
    assert "embed_allowed_origins" in refused.value.message_dict
