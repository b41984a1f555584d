"""config/static_storage.py: whitenoise's manifest storage, each file's URL worked out once.

Every page links its stylesheet and scripts through `{% static %}`: the URLs must be the ones
whitenoise's storage gives (the hashed, immutable file it serves), whatever was asked before, and
a file missing from the manifest must fail as loudly the second time as the first.
"""

import json

import pytest
from django.template import Context, Template
from whitenoise.storage import CompressedManifestStaticFilesStorage

from config.static_storage import StaticFilesStorage

MANIFEST = {
    "css/public.css": "css/public.0123abcd4567.css",
    "participants/embed.js": "participants/embed.89ef0123abcd.js",
    "fonts/icons.woff": "fonts/icons.4567cdef0123.woff",
}


@pytest.fixture
def static_root(tmp_path, settings):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    settings.STATIC_URL = "/static/"
    (tmp_path / "staticfiles.json").write_text(
        json.dumps({"paths": MANIFEST, "version": "1.1", "hash": "0123abcd"})
    )
    return tmp_path


def _storages(root):
    return (
        StaticFilesStorage(location=root, base_url="/static/"),
        CompressedManifestStaticFilesStorage(location=root, base_url="/static/"),
    )


def test_every_name_gets_whitenoises_hashed_url_each_time_it_is_asked(static_root):
    ours, whitenoise = _storages(static_root)
    names = [*MANIFEST, "fonts/icons.woff#iefix", "fonts/icons.woff?#iefix", "css/public.css"]
    for _ in range(2):
        for name in names:
            assert ours.url(name) == whitenoise.url(name)
    assert ours.url("css/public.css") == "/static/css/public.0123abcd4567.css"
    assert ours.url("fonts/icons.woff#iefix") == "/static/fonts/icons.4567cdef0123.woff#iefix"


def test_a_file_missing_from_the_manifest_fails_every_time(static_root):
    ours, _ = _storages(static_root)
    for _ in range(2):
        with pytest.raises(ValueError, match="Missing staticfiles manifest entry for 'css/gone"):
            ours.url("css/gone.css")
    assert ours.url("css/public.css") == "/static/css/public.0123abcd4567.css"


def test_a_url_is_worked_out_once_per_storage(static_root):
    # What the manifest said when the name was first asked for is what every later page links
    # to: the manifest is read once, when the storage is made (a new collectstatic comes with a
    # restart). A new storage reads the new manifest.
    ours, _ = _storages(static_root)
    assert ours.url("css/public.css") == "/static/css/public.0123abcd4567.css"
    ours.hashed_files["css/public.css"] = "css/public.ffffffffffff.css"
    assert ours.url("css/public.css") == "/static/css/public.0123abcd4567.css"
    assert ours.url("participants/embed.js") == "/static/participants/embed.89ef0123abcd.js"

    paths = {**MANIFEST, "css/public.css": "css/public.ffffffffffff.css"}
    (static_root / "staticfiles.json").write_text(
        json.dumps({"paths": paths, "version": "1.1", "hash": "ffff"})
    )
    assert _storages(static_root)[0].url("css/public.css") == "/static/css/public.ffffffffffff.css"


def test_debug_and_collectstatic_get_djangos_answer_unkept(static_root, settings):
    ours, _ = _storages(static_root)
    settings.DEBUG = True
    assert ours.url("css/public.css") == "/static/css/public.css"  # the unhashed file, as Django
    # collectstatic asks with force=True: always the manifest's hashed name, even with DEBUG on.
    assert ours.url("css/public.css", force=True) == "/static/css/public.0123abcd4567.css"
    settings.DEBUG = False
    assert ours.url("css/public.css") == "/static/css/public.0123abcd4567.css"
    settings.DEBUG = True
    assert ours.url("css/public.css") == "/static/css/public.css"


def test_the_static_tag_writes_the_hashed_url_through_the_configured_storage(static_root, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "config.static_storage.StaticFilesStorage"},
    }
    page = Template("{% load static %}<link href=\"{% static 'css/public.css' %}\">")
    for _ in range(2):
        assert page.render(Context()) == '<link href="/static/css/public.0123abcd4567.css">'
