"""Country names and codes, as IdPs send them, to ISO 3166-1 alpha-2.

IdPs send `BE`, `be`, `BEL`, `Belgium`, `Belgique`, `België`, `Belgien`… pycountry knows the
codes and English names, and ships the ISO 3166 name translations; the index over them is built
once per process, so a lookup at login is one dict access.
"""

import gettext
import unicodedata
from functools import lru_cache

import pycountry

# Languages whose country names we accept, beyond English: the campaign markets and neighbours.
NAME_LANGUAGES = ("fr", "nl", "de", "es", "it", "pt", "pl", "lb")


def _fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive key: “Côte d'Ivoire” == “cote divoire”."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum())


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    translations = []
    for language in NAME_LANGUAGES:
        try:
            translations.append(
                gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
            )
        except OSError:  # a pycountry build without that locale
            continue
    for country in pycountry.countries:
        alpha_2 = country.alpha_2
        english = [
            getattr(country, attr, None) for attr in ("name", "official_name", "common_name")
        ]
        names = [n for n in english if n]
        for translation in translations:
            names += [translation.gettext(n) for n in english if n]
        for name in names:
            # setdefault: the first (English) meaning of a name wins over a translation clash.
            index.setdefault(_fold(name), alpha_2)
    for country in pycountry.countries:
        index[_fold(country.alpha_3)] = country.alpha_2
        index[_fold(country.alpha_2)] = country.alpha_2
    return index


def country_code(*, value: str) -> str | None:
    """The ISO alpha-2 code for a code or a name in one of the known languages, else None."""
    return _country_code(value)


# Participants share a handful of countries: caching the folded lookup is worth it.
@lru_cache(maxsize=2048)
def _country_code(value: str) -> str | None:
    return _index().get(_fold(value))
