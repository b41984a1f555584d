"""Drive a campaign embedded in a customer's frame in tests: the framed pages without cookies,
and the login pop-up (first-party) that hands the frame a ticket."""

import re
from urllib.parse import parse_qs, urlsplit

from django.test import Client
from django.urls import reverse

from tests.participants.login.sso_flow import Started

HOST_SITE = "https://shop.example.com"


class FrameClient(Client):
    """A browser inside a customer's frame with third-party cookies blocked: no cookie it was
    given ever comes back. `cookies_set` collects every cookie our answers tried to set."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cookies_set: list[str] = []

    def request(self, **request):
        self.cookies.clear()
        response = super().request(**request)
        self.cookies_set += list(response.cookies)
        return response


def embed_url(campaign, name: str = "embed_landing", **query) -> str:
    url = reverse(f"participants:{name}", args=[campaign.slug])
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return url


def _hidden(response, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', response.text)
    assert match, f"no hidden {name} in the page"
    return match.group(1)


def visit_token(response) -> str:
    """The embedded visit's token, as the page's forms, or else its links, carry it."""
    match = re.search(r'name="t" value="([^"]*)"', response.text) or re.search(
        r"\?t=([A-Za-z0-9_-]{43})", response.text
    )
    assert match, "no visit token in the page"
    return match.group(1)


def form_token(response) -> str:
    """The one form token the page may post next."""
    return _hidden(response, "form_token")


def frame_ancestors(response) -> str:
    csp = response["Content-Security-Policy"]
    return next(d for d in csp.split(";") if d.strip().startswith("frame-ancestors")).strip()


def popup_login_start(client, campaign, token: str, **query) -> Started:
    """The pop-up's first page, which sends the participant to the IdP."""
    response = client.get(embed_url(campaign, "embed_login_start", t=token, **query))
    assert response.status_code == 302, response.status_code
    params = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
    return Started(response=response, params=params)


def ticket_of(done_page) -> str:
    """The ticket the pop-up's last page hands to the frame."""
    match = re.search(r'data-embed-ticket="([^"]*)"', done_page.text)
    assert match, "no ticket on the page"
    return match.group(1)
