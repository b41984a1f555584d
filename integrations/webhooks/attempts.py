"""One attempt at a delivery: the signed POST over the endpoint's kept-alive session, and its
record (the delivery's outcome, the attempt row, the endpoint's success or failing streak).

One attempt is bounded (connect 5 s, read 15 s, 30 s in all). The caller holds the delivery's
lease (integrations/webhooks/leases.py) and renews it while the POST runs; recording happens in
the caller's transaction, so that a worker draining an endpoint records one attempt and leases
the next delivery in one commit.
"""

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from django.db.models import F, Q
from django.utils import timezone
from requests import Session
from requests.auth import HTTPBasicAuth

from core.statements import rows_delete, rows_insert, rows_update_each
from integrations.egress.policy import EgressError, Purpose
from integrations.egress.transport import EgressResponse, send, session_for
from integrations.fields import UndecryptableSecret, UndecryptableSecretError
from integrations.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookAuthType,
    WebhookDelivery,
    WebhookEndpoint,
)
from integrations.webhooks.endpoints import endpoint_disable, endpoint_signing_secrets
from integrations.webhooks.leases import lease_renewer
from integrations.webhooks.payloads import body_bytes
from integrations.webhooks.retries import THROTTLE_STATUSES, retry_after, retry_delay
from integrations.webhooks.signing import signed_headers

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0
# The whole attempt, however the receiver dribbles its answer.
TOTAL_TIMEOUT = 30.0
# Kept of each answer (and shown, escaped, in the admin).
RESPONSE_BODY_LIMIT = 2048
# An endpoint failing for this long without a single success is disabled.
DISABLE_AFTER_FAILING_FOR = timedelta(days=5)
# `last_success_at` is kept to this precision.
SUCCESS_RECORDING_INTERVAL = timedelta(minutes=1)
USER_AGENT = "CampaignSSO-Webhooks/1.0"
# Kept-alive sessions per thread, one per endpoint URL, the least recently used closed beyond.
SESSIONS_KEPT = 32


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY_SCHEDULED = "retry_scheduled"
    FAILED = "failed"
    # Nothing sent: not due, already done, or another worker holds it.
    SKIPPED = "skipped"
    # Nothing sent: the endpoint is switched off; the delivery waits.
    PAUSED = "paused"
    # Nothing sent: the endpoint already has its share of deliveries in flight; queued again
    # when a slot frees.
    BUSY = "busy"
    # Nothing sent yet: a task was queued for it (the relay's count).
    QUEUED = "queued"


@dataclass
class Sent:
    """What one POST gave, and what recording it will write."""

    outcome: DeliveryOutcome
    attempted_at: datetime
    finished_at: datetime
    update: dict = field(default_factory=dict)
    recorded: dict = field(default_factory=dict)
    disable_reason: str = ""


# ---------------------------------------------------------------------------- sessions
class _Sessions(threading.local):
    """Kept-alive connections: a worker draining an endpoint's backlog opens one connection, not
    one per delivery. Every new connection still goes through the egress checks (the URL at each
    send, the peer address at each connect); a forked child starts with none of its parent's."""

    def __init__(self) -> None:
        self.by_url: OrderedDict[str, Session] = OrderedDict()

    def get(self, url: str) -> Session:
        session = self.by_url.pop(url, None) or session_for(Purpose.WEBHOOK)
        self.by_url[url] = session
        while len(self.by_url) > SESSIONS_KEPT:
            self.by_url.popitem(last=False)[1].close()
        return session

    def close(self, url: str) -> None:
        session = self.by_url.pop(url, None)
        if session is not None:
            session.close()


_sessions = _Sessions()


def endpoint_session(*, endpoint: WebhookEndpoint) -> Session:
    """This thread's kept-alive session for the endpoint's URL."""
    return _sessions.get(endpoint.url)


# ---------------------------------------------------------------------------- the POST
def _auth(endpoint: WebhookEndpoint) -> tuple[HTTPBasicAuth | None, dict[str, str]]:
    if endpoint.auth_type == WebhookAuthType.NONE:
        return None, {}
    secret = endpoint.auth_secret
    if isinstance(secret, UndecryptableSecret):
        raise UndecryptableSecretError(
            "The extra authentication secret cannot be decrypted; enter it again."
        )
    if endpoint.auth_type == WebhookAuthType.BASIC:
        return HTTPBasicAuth(endpoint.auth_username, secret or ""), {}
    if endpoint.auth_type == WebhookAuthType.BEARER:
        return None, {"Authorization": f"Bearer {secret}"}
    return None, {endpoint.auth_header_name: secret or ""}


def _request(delivery: WebhookDelivery, *, attempted_at: datetime, session: Session | None):
    """POST the delivery; returns (response or None, error text)."""
    endpoint = delivery.endpoint
    body = body_bytes(delivery.payload)
    try:
        auth, auth_headers = _auth(endpoint)
        headers = {
            **auth_headers,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **signed_headers(
                secrets=endpoint_signing_secrets(endpoint=endpoint, now=attempted_at),
                message_id=delivery.event_id,
                timestamp=int(attempted_at.timestamp()),
                body=body,
            ),
        }
    except UndecryptableSecretError as exc:
        return None, str(exc)
    try:
        response = send(
            "POST",
            endpoint.url,
            purpose=Purpose.WEBHOOK,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            total_timeout=TOTAL_TIMEOUT,
            max_bytes=RESPONSE_BODY_LIMIT,
            truncate=True,
            headers=headers,
            data=body,
            auth=auth,
            session=session,
        )
    except EgressError as exc:
        return None, str(exc)
    return response, ""


def delivery_send(*, delivery: WebhookDelivery, session: Session | None = None) -> Sent:
    """POST a delivery this worker has claimed (its lease renewed meanwhile: if this process
    dies, the lease lapses within LEASE and another worker takes the delivery over) and work out
    what its record will say. Nothing is written."""
    (sent,) = deliveries_send(deliveries=[delivery], session=session)
    return sent


def deliveries_send(
    *,
    deliveries: list[WebhookDelivery],
    session: Session | None = None,
    until: float | None = None,
) -> list[Sent]:
    """POST claimed deliveries, one after the other over `session`: the first always, each next
    one while the previous was delivered and `time.monotonic()` is before `until`. Their leases
    are renewed meanwhile. Returns what each one sent gave, in order: the deliveries after them
    were not sent (give them back with `deliveries_release`). Nothing is written."""
    sent: list[Sent] = []
    with contextlib.ExitStack() as renewed:
        for token in dict.fromkeys(delivery.lease_token for delivery in deliveries):
            renewed.enter_context(lease_renewer.held(token))
        for delivery in deliveries:
            if sent and (
                sent[-1].outcome is not DeliveryOutcome.DELIVERED
                or (until is not None and time.monotonic() >= until)
            ):
                break
            sent.append(_send(delivery, session=session))
    return sent


def _send(delivery: WebhookDelivery, *, session: Session | None) -> Sent:
    attempted_at = timezone.now()
    response, error = _request(delivery, attempted_at=attempted_at, session=session)
    finished_at = timezone.now()
    if response is None and session is not None:
        # A connection that failed is not reused.
        _sessions.close(delivery.endpoint.url)
    return _outcome(delivery, response, error, attempted_at=attempted_at, finished_at=finished_at)


def _outcome(
    delivery: WebhookDelivery,
    response: EgressResponse | None,
    error: str,
    *,
    attempted_at: datetime,
    finished_at: datetime,
) -> Sent:
    status_code = response.status_code if response is not None else None
    # Counted when it was claimed.
    attempts_made = delivery.attempt_count
    update = {"last_status_code": status_code, "locked_until": None, "lease_token": ""}
    disable_reason = ""
    if status_code is not None and 200 <= status_code < 300:
        outcome = DeliveryOutcome.DELIVERED
        update.update(status=DeliveryStatus.DELIVERED, delivered_at=finished_at, last_error="")
    elif status_code == 410:
        outcome = DeliveryOutcome.FAILED
        error = "The receiver answered 410 Gone: the endpoint was disabled."
        disable_reason = "The receiver answered 410 Gone (it no longer wants these events)."
        update.update(status=DeliveryStatus.FAILED, last_error=error)
    else:
        if status_code is not None and 300 <= status_code < 400:
            location = response.headers.get("Location", "")[:200]
            error = f"HTTP {status_code}: redirects are not followed ({location or 'no Location'})."
        elif status_code is not None:
            error = f"HTTP {status_code}."
        delay = retry_delay(attempts_made=attempts_made)
        if delay is not None and status_code in THROTTLE_STATUSES:
            delay = retry_after(response.headers.get("Retry-After"), now=finished_at) or delay
        if delay is None:
            outcome = DeliveryOutcome.FAILED
            update.update(status=DeliveryStatus.FAILED, last_error=error[:500])
            logger.warning(
                "Webhook delivery %s to endpoint %s failed after %s attempts: %s",
                delivery.event_id,
                delivery.endpoint_id,
                attempts_made,
                error,
            )
        else:
            outcome = DeliveryOutcome.RETRY_SCHEDULED
            # No task waits for it: the relay queues it when it comes due.
            update.update(next_attempt_at=finished_at + delay, last_error=error[:500])
    recorded = {
        "started_at": attempted_at,
        "duration_ms": response.elapsed_ms
        if response is not None
        else int((finished_at - attempted_at).total_seconds() * 1000),
        "status_code": status_code,
        "error": error[:500],
        "response_body": response.text[:RESPONSE_BODY_LIMIT] if response is not None else "",
        "in_flight": False,
    }
    return Sent(
        outcome=outcome,
        attempted_at=attempted_at,
        finished_at=finished_at,
        update=update,
        recorded=recorded,
        disable_reason=disable_reason,
    )


def delivery_record(*, delivery: WebhookDelivery, sent: Sent) -> bool:
    """Write what an attempt gave; call it in a transaction. False when the lease was lost
    meanwhile (another claim's outcome stands; the attempt row is written all the same)."""
    return deliveries_record(deliveries=[delivery], sent=[sent])


def deliveries_record(*, deliveries: list[WebhookDelivery], sent: list[Sent]) -> bool:
    """Write what attempts gave (`sent[i]` is `deliveries[i]`'s, see `deliveries_send`); call it
    in a transaction. The delivered ones of one lease take one UPDATE and one INSERT of their
    attempt rows, however many they are. False when a lease was lost meanwhile (another claim's
    outcome stands; the attempt rows are written all the same)."""
    attempts = list(zip(deliveries, sent, strict=False))
    delivered = [(d, s) for d, s in attempts if s.outcome is DeliveryOutcome.DELIVERED]
    kept = True
    for token in dict.fromkeys(delivery.lease_token for delivery, _ in delivered):
        kept = _delivered_record([(d, s) for d, s in delivered if d.lease_token == token]) and kept
    for delivery, one in attempts:
        if one.outcome is not DeliveryOutcome.DELIVERED:
            kept = _attempt_record(delivery, one) and kept
    return kept


def _delivered_record(delivered: list[tuple[WebhookDelivery, Sent]]) -> bool:
    """Deliveries of one lease, each delivered: the deliveries first, then their attempt rows
    (the order a claim locks them in, so that a worker whose lease ran out and the claim that
    took over never deadlock). One statement each, written on the cursor (core/statements.py):
    the ORM compiling them cost a batch more than sending them to the database."""
    token = delivered[0][0].lease_token
    ids = [delivery.pk for delivery, _ in delivered]
    # Each delivery keeps its own answer (its time, its status code).
    kept = rows_update_each(
        WebhookDelivery,
        {delivery.pk: sent.update for delivery, sent in delivered},
        lease_token=token,
    )
    # The rows written at claim time, written again as what really happened (even if a later
    # claim marked them interrupted).
    rows_delete(WebhookAttempt, delivery_id__in=ids, lease_token=token)
    rows_insert(
        [
            WebhookAttempt(delivery_id=delivery.pk, lease_token=token, **sent.recorded)
            for delivery, sent in delivered
        ]
    )
    if kept < len(ids):
        # Our lease ran out and another worker took over: its outcome stands.
        logger.warning(
            "Webhook deliveries %s: lease lost during the attempts (%s of %s kept)",
            ", ".join(delivery.event_id for delivery, _ in delivered),
            kept,
            len(ids),
        )
    if kept:
        endpoint = delivered[0][0].endpoint
        finished_at = delivered[-1][1].finished_at
        if _success_worth_recording(endpoint, at=finished_at):
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                last_success_at=finished_at, failing_since=None
            )
            # The same endpoint object serves a drain's next deliveries.
            endpoint.last_success_at, endpoint.failing_since = finished_at, None
    return kept == len(ids)


def _attempt_record(delivery: WebhookDelivery, sent: Sent) -> bool:
    """One attempt that was not delivered: its delivery, its attempt row, the endpoint's
    failing streak."""
    # The delivery row first, then its attempt: the order a claim locks them in, so that a
    # worker whose lease ran out and the claim that took over never deadlock.
    kept = WebhookDelivery.objects.filter(pk=delivery.pk, lease_token=delivery.lease_token).update(
        **sent.update
    )
    # The row written at claim time (even if a later claim marked it interrupted: this is what
    # really happened).
    if not WebhookAttempt.objects.filter(
        delivery_id=delivery.pk, lease_token=delivery.lease_token
    ).update(**sent.recorded):
        WebhookAttempt.objects.create(
            delivery_id=delivery.pk, lease_token=delivery.lease_token, **sent.recorded
        )
    if not kept:
        # Our lease ran out and another worker took over: its outcome stands.
        logger.warning("Webhook delivery %s: lease lost during the attempt", delivery.event_id)
        return False
    _endpoint_failed(delivery.endpoint_id, at=sent.attempted_at, gone_reason=sent.disable_reason)
    return True


# ---------------------------------------------------------------------------- the record
def _success_worth_recording(endpoint: WebhookEndpoint, *, at: datetime) -> bool:
    """Skip rewriting the endpoint row after every success of a busy endpoint: workers draining
    a backlog would all queue on that one row's lock."""
    return (
        endpoint.failing_since is not None
        or endpoint.last_success_at is None
        or at - endpoint.last_success_at > SUCCESS_RECORDING_INTERVAL
    )


def _endpoint_failed(endpoint_id: int, *, at: datetime, gone_reason: str) -> None:
    if gone_reason:
        endpoint_disable(endpoint_id=endpoint_id, reason=gone_reason)
        return
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
        failing_since=at
    )
    failing_too_long = WebhookEndpoint.objects.filter(
        pk=endpoint_id, failing_since__lte=at - DISABLE_AFTER_FAILING_FOR
    ).filter(Q(last_success_at__isnull=True) | Q(last_success_at__lt=F("failing_since")))
    if failing_too_long.exists():
        days = DISABLE_AFTER_FAILING_FOR.days
        endpoint_disable(
            endpoint_id=endpoint_id,
            reason=f"No successful delivery for {days} days.",
        )
