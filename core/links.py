"""Named links from a lower app to a page of a higher one, without importing or naming it.

A campaign's public page, a campaign's statistics or an integration's test login are
participants' pages; campaigns and integrations show links to them but sit below participants
(docs/architecture.md). So the app that owns a page registers a link by name in its
`AppConfig.ready()`, and the app that shows it asks for the link by that name:

    link_provide("campaign_page", lambda *, slug: reverse("participants:landing", args=[slug]))
    ...
    url = link_url("campaign_page", slug=campaign.slug)  # "" when no app provides it

With no provider (the owning app not installed), or a provider whose URL does not resolve (an
admin site without that page), the link is "" and the caller shows nothing.
"""

import functools
from collections.abc import Callable

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse

_providers: dict[str, Callable[..., str]] = {}


def link_provide(name: str, build: Callable[..., str]) -> None:
    """Make `name` lead to the URL `build(**kwargs)` returns; a second call replaces the first
    (AppConfig.ready() may run more than once in tests)."""
    _providers[name] = build


def link_withdraw(name: str) -> None:
    """Forget the link `name` (nothing when it is not provided)."""
    _providers.pop(name, None)


def link_url(name: str, **kwargs) -> str:
    """The URL of the link `name` for these arguments, or "" when no app provides it."""
    build = _providers.get(name)
    if build is None:
        return ""
    try:
        return build(**kwargs)
    except NoReverseMatch:
        return ""


def links_provided() -> frozenset[str]:
    """The names of the links some app provides."""
    return frozenset(_providers)


def path_of(viewname: str, *args) -> str:
    """`reverse(viewname, args=args)`, remembered in this process.

    A page's path changes only with the URLconf and the path the site is served under (the
    script prefix): both are part of what is remembered. Django's `reverse` costs about as much
    as rendering a small template; a participant's login asks for the same few paths of a
    campaign on each of its pages. Raises NoReverseMatch as `reverse` does (never remembered).
    """
    return _reversed(get_urlconf() or settings.ROOT_URLCONF, get_script_prefix(), viewname, args)


@functools.lru_cache(maxsize=2048)
def _reversed(urlconf: str, script_prefix: str, viewname: str, args: tuple) -> str:
    # `reverse` reads the same script prefix from this thread: the one in the key.
    return reverse(viewname, urlconf=urlconf, args=args)
