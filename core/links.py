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

from collections.abc import Callable

from django.urls import NoReverseMatch

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
