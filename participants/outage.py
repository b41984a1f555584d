"""The database is unreachable: participants get a page that says so, never a bare 500 or 400.

What each participant page does while PostgreSQL is down (restarting, failing over, a network
cut):

- pages whose campaign this process keeps (campaigns/lookup.py) answer as usual: the landing
  page, the form (without the "already took part" check, which the submit makes again), the
  thank-you page after a submit (it needs no session: its URL carries a signed receipt) and the
  "already took part" page;
- a submitted form comes back with the participant's answers and "we could not save your
  answers", status 503 (participants/views.py); submitting again once the database is back
  stores it exactly once (its one-time token);
- a participation stored just before the failure is confirmed as stored: the redirect to the
  thank-you page needs no session, and a session that cannot be saved afterwards never turns
  that answer into an error (`SessionMiddleware` below);
- every other participant page that needs the database (a campaign this process has not kept,
  e.g. after a worker was recycled mid-outage; the login start, which records the attempt; the
  login callback, which reads it) gets the friendly "temporarily unavailable, please try again"
  page in the participant's language, status 503 with `Retry-After`.

The last two points are enforced here, at two levels: `DatabaseOutageMiddleware` answers an
`OperationalError` or `InterfaceError` raised by a participant view, and `server_error` (the
`handler500`) answers one raised anywhere else on a participant URL. Admin pages and other URLs
keep Django's own error handling.

A campaign this process has not kept is not served from elsewhere during the outage: a copy in
the shared cache would put the integration's decrypted client secret into Redis, and one on
disk would have to be invalidated across machines; the honest answer is this 503 page.
"""

import logging
import sys

from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.cache import add_never_cache_headers
from django.views import defaults

logger = logging.getLogger(__name__)

# What Django raises when the database cannot be reached or the connection broke mid-use.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
# Seconds a participant (or a client honouring the header) should wait before trying again.
RETRY_AFTER_SECONDS = 10


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from or while handling, is the database
    being unreachable (Django's session stores turn it into an UpdateError, for instance)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, DATABASE_UNAVAILABLE):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _participant_match(request):
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
    return match if match.namespace == "participants" else None


def participant_request(request) -> bool:
    """A request to a participant URL (campaign pages, login start, callback, test login)."""
    return _participant_match(request) is not None


def _kept_campaign(slug: str | None):
    """The campaign this process keeps for `slug`, without asking the database."""
    if not slug:
        return None
    from campaigns.lookup import public_campaigns

    try:
        return public_campaigns.get(slug, lambda: None)
    except Exception:
        return None


def outage_response(request) -> HttpResponse:
    """The friendly 503 page for a participant page that needs the database right now."""
    match = _participant_match(request)
    slug = match.kwargs.get("slug") if match is not None else None
    campaign = _kept_campaign(slug)
    from participants.pages import language_activate

    language_activate(request, campaign)
    is_callback = match is not None and match.url_name.startswith("oauth_callback")
    context = {
        "campaign": campaign,
        "campaign_slug": slug if campaign is not None else None,
        # Loading the same page again is the retry; the callback's URL carries a code and a
        # state, which no link on our page repeats.
        "retry_url": request.get_full_path() if request.method == "GET" and not is_callback else "",
        "retry_after_seconds": RETRY_AFTER_SECONDS,
    }
    response = render(request, "participants/unavailable.html", context, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Referrer-Policy"] = "no-referrer"
    add_never_cache_headers(response)
    return response


def _log(request, exc: BaseException | None, where: str) -> None:
    logger.warning(
        "Database unavailable: friendly 503 page (%s, %s %s)",
        where,
        request.method,
        getattr(_participant_match(request), "view_name", "-"),
        exc_info=exc if exc is not None else False,
    )


class DatabaseOutageMiddleware:
    """A participant view that could not reach the database answers the friendly 503 page."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not database_unavailable(exception) or not participant_request(request):
            return None
        _log(request, exception, "view")
        return outage_response(request)


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's, except when the session cannot be saved because the database is unavailable,
    on a participant page: a response that confirms a stored participation (marked with
    `confirms_stored`) is kept as it is, since that participation needs nothing from the
    session; any other answer becomes the friendly 503 page, since what it relies on was not
    saved. Django would answer a bare 400 ("the session was interrupted") or 500."""

    def process_response(self, request, response):
        try:
            return super().process_response(request, response)
        except Exception as exc:
            if not database_unavailable(exc) or not participant_request(request):
                raise
            if getattr(response, "confirms_stored", False):
                logger.warning(
                    "Session not saved (database unavailable); the stored participation is "
                    "confirmed without it",
                    exc_info=True,
                )
                return response
            _log(request, exc, "session save")
            return outage_response(request)


def server_error(request, *args, **kwargs):
    """`handler500`: the last line. An uncaught database outage on a participant URL (raised
    outside the view, e.g. by a middleware) gets the friendly 503 page; everything else gets
    Django's own 500 page."""
    exc = sys.exc_info()[1]
    if database_unavailable(exc) and participant_request(request):
        try:
            return outage_response(request)
        except Exception:
            logger.exception("The friendly 503 page could not be rendered")
    return defaults.server_error(request, *args, **kwargs)
