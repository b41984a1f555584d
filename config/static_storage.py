"""The static files' storage in production: whitenoise's compressed manifest storage, with each
file's URL worked out once per process.

Every public page writes `{% static 'css/public.css' %}`. Django's manifest storage answers each
call by looking the name up in the manifest, then splitting, quoting and joining it to
STATIC_URL: about 130,000 instructions a tag (bench/step_instructions.py, BENCHMARKS.md "Tenth
round"), for an answer that cannot change. The manifest is read once, when the storage is made;
a new `collectstatic` comes with a restart, and with a new storage.

What is kept: the URL of each name asked for and found. A name missing from the manifest is not
kept and raises on every call, as Django's does (`manifest_strict`). `collectstatic`'s own calls
(`force=True`) and the unhashed URLs of DEBUG are never kept.
"""

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Names come from the templates and the admin's media: a short, fixed list.
        self._urls: dict[str, str] = {}

    def url(self, name, force=False):
        if force or settings.DEBUG:
            return super().url(name, force)
        try:
            return self._urls[name]
        except KeyError:
            url = self._urls[name] = super().url(name)
            return url
