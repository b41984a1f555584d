"""The values a participant's identity provider supplied for a campaign, kept in their session.

The SSO callback stores them with `prefill_set` once the mapping has turned the IdP profile into
campaign variables; the campaign form reads them with `prefill_get`. They live server-side (in
the session), so hidden and read-only fields never depend on what the browser sends back.
"""

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from campaigns.models import Campaign
from core.statements import row_get
from participants.models import Participant

SESSION_KEY_PREFIX = "sso:"


def _session_key(campaign: Campaign) -> str:
    return f"{SESSION_KEY_PREFIX}{campaign.pk}"


@dataclass(frozen=True)
class Prefill:
    participant_id: int
    values: dict[str, Any]
    integration_name: str
    # The variables the mapping asked the IdP for, whether it had a value or not.
    targets: tuple[str, ...] = ()
    # One per login: an auto-submitted form uses it as its submission token, so reloading the
    # form step after a login never submits twice.
    auto_submit_token: str = field(default="", repr=False)


def prefill_data(
    *,
    participant_id: int,
    values: dict[str, Any],
    integration_name: str,
    targets: Iterable[str] = (),
) -> dict:
    """A prefill as it is kept (in a session, or for an embedded visit: participants/embedding),
    with its own auto-submit token."""
    return {
        "participant_id": int(participant_id),
        "values": {str(k): v for k, v in values.items()},
        "integration_name": str(integration_name),
        "targets": [str(t) for t in dict.fromkeys([*values, *targets])],
        "auto_submit_token": secrets.token_urlsafe(32),
    }


def prefill_from_data(data) -> Prefill | None:
    """The prefill kept as `data`, or None when it is malformed."""
    if not isinstance(data, dict):
        return None
    participant_id = data.get("participant_id")
    values = data.get("values")
    token = data.get("auto_submit_token")
    if not isinstance(participant_id, int) or not isinstance(values, dict):
        return None
    if not isinstance(token, str) or not token:
        return None
    targets = data.get("targets")
    if not isinstance(targets, list):
        targets = list(values)  # a prefill from before targets were kept: its values' names
    return Prefill(
        participant_id=participant_id,
        values=values,
        integration_name=str(data.get("integration_name") or ""),
        targets=tuple(str(t) for t in targets),
        auto_submit_token=token,
    )


def prefill_set(
    request,
    campaign: Campaign,
    *,
    participant_id: int,
    values: dict[str, Any],
    integration_name: str,
    targets: Iterable[str] = (),
) -> Prefill:
    """Remember what the IdP supplied for this campaign (replaces an earlier login's values).

    `targets` are the variables the mapping asked the IdP for; those without a value too.
    """
    data = prefill_data(
        participant_id=participant_id,
        values=values,
        integration_name=integration_name,
        targets=targets,
    )
    request.session[_session_key(campaign)] = data
    return prefill_from_data(data)


def prefill_get(request, campaign: Campaign) -> Prefill | None:
    """The prefill of this campaign in this session, or None (also when it is malformed)."""
    data = request.session.get(_session_key(campaign))
    if not isinstance(data, dict):
        return None
    token = data.get("auto_submit_token")
    if not isinstance(token, str) or not token:
        # Written by other code than prefill_set: give it its per-login token now.
        data = {**data, "auto_submit_token": secrets.token_urlsafe(32)}
        if prefill_from_data(data) is not None:
            request.session[_session_key(campaign)] = data
    return prefill_from_data(data)


def prefill_clear(request, campaign: Campaign) -> None:
    request.session.pop(_session_key(campaign), None)


def prefills_clear_participant(request, *, participant_id: int) -> None:
    """Drop every campaign's prefill of this participant in this session ("Not you?")."""
    session = request.session
    # SessionBase has keys() but is not iterable.
    for key in [k for k in list(session.keys()) if k.startswith(SESSION_KEY_PREFIX)]:
        data = session.get(key)
        if isinstance(data, dict) and data.get("participant_id") == participant_id:
            del session[key]


def prefill_participant(campaign: Campaign, prefill: Prefill | None) -> Participant | None:
    """The participant `prefill` was made for, while they exist in `campaign`'s account; None
    without a prefill. Every prefilled page reads it: core/statements.py, for a tenth of the
    ORM's CPU."""
    if prefill is None:
        return None
    return row_get(Participant, pk=prefill.participant_id, account_id=campaign.account_id)
