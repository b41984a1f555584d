"""Campaigns embedded in a customer's frame: a participant's progress without any cookie.

Inside someone else's page our cookies are third-party: browsers block them (Safari, Firefox,
Chrome with tracking protection) and SameSite=Lax ones are never sent there anyway. So:

- **The embedded visit** (`EmbedSession`) carries the progress instead of a session: a random
  token (256 bits; the row holds its SHA-256) in the frame's addresses and forms, good for one
  campaign only and for EMBED_SESSION_TTL_SECONDS from the first page.
- **The form token**: each page the frame gets names the one form token it may post next
  (stored hashed). Every form in the frame carries it: without a cookie, this is what tells our
  own forms from a forged POST (participants/views_embed.py).
- **The ticket.** Identity providers refuse to be framed, and a login needs browser-bound
  state, so the frame logs in through a small top-level window of ours (first-party: the usual
  login attempt and `sso_browser` cookie work). The callback ends there with a ticket (256
  bits, stored hashed, EMBED_TICKET_TTL_SECONDS, one use) bound to the attempt and to the
  frame's visit; the window hands it to the frame with `postMessage`, and the frame redeems it
  here for the login's prefill. Presented by any other visit, a ticket is burnt.
"""

import hashlib
import json
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from campaigns.models import Campaign
from integrations.fields import UndecryptableSecret
from participants.models import EmbedSession, EmbedTicket, LoginAttempt
from participants.prefill import Prefill, prefill_data, prefill_from_data

# secrets.token_urlsafe(32): 43 characters.
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
# The pop-up hands the ticket over at once; a minute or two covers a slow device.
EMBED_TICKET_TTL_SECONDS = 120
# Where the login pop-up keeps the ticket it hands over (its own, first-party session).
_SESSION_TICKET_KEY = "embed_ticket:{campaign}"


class TicketError(Exception):
    """A ticket that cannot be redeemed; `code` says why (for the log, never shown)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _new_token() -> str:
    return secrets.token_urlsafe(32)


# ---------------------------------------------------------------------------- the visit
def embed_session_start(*, campaign: Campaign) -> tuple[EmbedSession, str]:
    """A new embedded visit of `campaign`, and its token (shown once, stored hashed)."""
    token = _new_token()
    visit = EmbedSession.objects.create(
        token_hash=_hash(token),
        campaign_id=campaign.pk,
        expires_at=timezone.now() + timedelta(seconds=settings.EMBED_SESSION_TTL_SECONDS),
    )
    return visit, token


def embed_session_get(*, campaign: Campaign, token: str) -> EmbedSession | None:
    """The unexpired visit of `campaign` with this token, or None: unknown, expired, or another
    campaign's (a token is good for the campaign it was made for and no other)."""
    if not isinstance(token, str) or not TOKEN_RE.match(token):
        return None
    return EmbedSession.objects.filter(
        token_hash=_hash(token), campaign_id=campaign.pk, expires_at__gt=timezone.now()
    ).first()


def embed_form_token_new(visit: EmbedSession) -> str:
    """The one form token the frame may post next (the previous one stops working)."""
    token = _new_token()
    visit.form_token_hash = _hash(token)
    EmbedSession.objects.filter(pk=visit.pk).update(form_token_hash=visit.form_token_hash)
    return token


def embed_form_token_valid(visit: EmbedSession, token: str) -> bool:
    """Whether `token` is the form token the visit's last page was given."""
    if not visit.form_token_hash or not isinstance(token, str) or not TOKEN_RE.match(token):
        return False
    return secrets.compare_digest(_hash(token), visit.form_token_hash)


def embed_form_token_spend(visit: EmbedSession, token: str) -> bool:
    """Use the form token up: True for exactly one of several requests posting it."""
    if not embed_form_token_valid(visit, token):
        return False
    spent = EmbedSession.objects.filter(pk=visit.pk, form_token_hash=_hash(token)).update(
        form_token_hash=""
    )
    visit.form_token_hash = ""
    return bool(spent)


def embed_prefill_get(visit: EmbedSession) -> Prefill | None:
    """The IdP's values the visit's login brought, or None."""
    if not visit.prefill or isinstance(visit.prefill, UndecryptableSecret):
        return None
    try:
        return prefill_from_data(json.loads(visit.prefill))
    except ValueError:
        return None


def embed_prefill_clear(visit: EmbedSession) -> None:
    """Forget the visit's login ("Not you?")."""
    visit.participant = None
    visit.prefill = ""
    visit.save(update_fields=["participant", "prefill"])


def embed_session_participated(visit: EmbedSession) -> None:
    """The visit's participation is stored: the thank-you page may be shown, no form posted."""
    visit.participated_at = timezone.now()
    visit.form_token_hash = ""
    visit.save(update_fields=["participated_at", "form_token_hash"])


# ---------------------------------------------------------------------------- the ticket
def embed_ticket_issue(
    *,
    attempt: LoginAttempt,
    participant_id: int,
    values: dict,
    targets,
    integration_name: str,
) -> str:
    """The ticket for the frame that started `attempt` (shown once, stored hashed)."""
    ticket = _new_token()
    data = prefill_data(
        participant_id=participant_id,
        values=values,
        integration_name=integration_name,
        targets=targets,
    )
    EmbedTicket.objects.create(
        ticket_hash=_hash(ticket),
        attempt=attempt,
        embed_session_id=attempt.embed_session_id,
        participant_id=participant_id,
        prefill=json.dumps(data, ensure_ascii=False, default=str),
        expires_at=timezone.now() + timedelta(seconds=EMBED_TICKET_TTL_SECONDS),
    )
    return ticket


def _ticket_claim(ticket: str) -> EmbedTicket:
    """The ticket's row, marked used by a conditional UPDATE (one claim wins); raises
    TicketError when it is malformed, unknown, used already or expired."""
    if not isinstance(ticket, str) or not TOKEN_RE.match(ticket):
        raise TicketError("ticket_malformed")
    row = EmbedTicket.objects.filter(ticket_hash=_hash(ticket)).first()
    if row is None:
        raise TicketError("ticket_unknown")
    now = timezone.now()
    if row.used_at is not None or not EmbedTicket.objects.filter(
        pk=row.pk, used_at__isnull=True
    ).update(used_at=now, prefill=""):
        raise TicketError("ticket_reused")
    if row.expires_at <= now:
        raise TicketError("ticket_expired")
    return row


def embed_ticket_redeem(*, visit: EmbedSession, ticket: str) -> Prefill:
    """Give the visit the login its pop-up made; raises TicketError.

    Claimed before the visit is compared: a ticket that reached another visit (leaked, or
    replayed by someone else's frame) is burnt either way and serves no one.
    """
    row = _ticket_claim(ticket)
    if row.embed_session_id != visit.pk:
        raise TicketError("ticket_other_visit")
    prefill = _ticket_prefill(row)
    visit.participant_id = row.participant_id
    visit.prefill = row.prefill
    visit.save(update_fields=["participant", "prefill"])
    return prefill


def embed_ticket_take(*, ticket: str, campaign: Campaign) -> Prefill:
    """The login of a ticket the pop-up could not hand over, for the pop-up's own session
    ("Continue in this window"); raises TicketError. Only the pop-up's session holds it."""
    row = _ticket_claim(ticket)
    if row.attempt.campaign_id != campaign.pk:
        raise TicketError("ticket_other_campaign")
    return _ticket_prefill(row)


def _ticket_prefill(row: EmbedTicket) -> Prefill:
    if isinstance(row.prefill, UndecryptableSecret):
        raise TicketError("ticket_undecryptable")
    try:
        prefill = prefill_from_data(json.loads(row.prefill))
    except ValueError:
        prefill = None
    if prefill is None:
        raise TicketError("ticket_malformed")
    return prefill


def embed_ticket_keep(request, *, campaign: Campaign, ticket: str) -> None:
    """Keep the ticket in the pop-up's own session until its page hands it over."""
    request.session[_SESSION_TICKET_KEY.format(campaign=campaign.pk)] = ticket


def embed_ticket_kept(request, *, campaign: Campaign, remove: bool = False) -> str:
    """The ticket the pop-up keeps for `campaign` ("" when none); `remove` forgets it."""
    key = _SESSION_TICKET_KEY.format(campaign=campaign.pk)
    ticket = request.session.pop(key, "") if remove else request.session.get(key, "")
    return ticket if isinstance(ticket, str) else ""
