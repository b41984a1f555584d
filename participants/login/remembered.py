"""Who this browser is logged in as on the campaigns: "Continue as" and "Not you?".

- **Remembered login.** A successful login is remembered for SSO_REMEMBER_SECONDS (0: never)
  in this browser session, for its integration only: another campaign of that integration, in
  the same account, then offers "Continue as <first name>" instead of another trip to the IdP.
  The session holds a random token per integration; the `RememberedLogin` row holds its hash,
  the participant and the IdP profile (encrypted, secret-like values redacted). "Continue"
  derives the prefill again from that profile through the integration's mapping, server-side:
  nothing the browser sends is taken for the participant's data.
- **"Not you?"** On a shared computer the next person drops it all without submitting
  anything: `sso_state_forget` removes the campaign's prefill, the same participant's prefills
  of other campaigns, the remembered login, and the logins this browser started on the
  campaign that have not come back from the IdP yet.
"""

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from campaigns.lookup import PublishedIntegration
from campaigns.models import Campaign
from core.statements import row_insert
from integrations.fields import UndecryptableSecret
from integrations.models import OAuthIntegration
from participants.login.profile import MappedProfile, profile_map, profile_redact
from participants.login.state import login_attempts_abandon
from participants.models import RememberedLogin
from participants.prefill import prefill_clear, prefill_get, prefills_clear_participant

logger = logging.getLogger(__name__)

SESSION_KEY = "sso_remember"  # {str(integration id): token}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _tokens(request) -> dict[str, str]:
    tokens = request.session.get(SESSION_KEY)
    return dict(tokens) if isinstance(tokens, dict) else {}


def _tokens_save(request, tokens: dict[str, str]) -> None:
    if tokens:
        request.session[SESSION_KEY] = tokens
    else:
        request.session.pop(SESSION_KEY, None)


# ---------------------------------------------------------------------------- remembered login
def remembered_login_set(
    request,
    *,
    integration: OAuthIntegration | PublishedIntegration,
    participant_id: int,
    parts: dict[str, dict],
) -> None:
    """Remember this login for another campaign of `integration` (replaces an earlier one)."""
    seconds = settings.SSO_REMEMBER_SECONDS
    if seconds <= 0:
        return
    tokens = _tokens(request)
    key = str(integration.pk)
    if key in tokens:
        RememberedLogin.objects.filter(token_hash=_hash(tokens[key])).delete()
    token = secrets.token_urlsafe(32)
    remembered = RememberedLogin(
        token_hash=_hash(token),
        participant_id=participant_id,
        integration_id=integration.pk,
        profile=json.dumps(profile_redact(parts), ensure_ascii=False, default=str),
        expires_at=timezone.now() + timedelta(seconds=seconds),
    )
    row_insert(remembered)  # every login's: core/statements.py
    tokens[key] = token
    _tokens_save(request, tokens)


@dataclass(frozen=True)
class ReturningParticipant:
    participant_id: int
    # The integration's mapping applied to the remembered profile, now.
    mapped: MappedProfile

    @property
    def first_name(self) -> str:
        value = self.mapped.values.get("firstname")
        return value.strip() if isinstance(value, str) else ""


def remembered_login_get(
    request, *, campaign: Campaign, integration: OAuthIntegration | None
) -> ReturningParticipant | None:
    """This browser's remembered login for `campaign`'s login `integration`, or None: none,
    expired, another account's, or a profile that can no longer be read."""
    if integration is None or settings.SSO_REMEMBER_SECONDS <= 0:
        return None
    token = _tokens(request).get(str(integration.pk))
    if not token:
        return None
    remembered = (
        RememberedLogin.objects.filter(
            token_hash=_hash(token),
            integration_id=integration.pk,
            # The integration is the account's: this holds the account line a second time.
            participant__account_id=campaign.account_id,
            expires_at__gt=timezone.now(),
        )
        .only("participant_id", "profile")
        .first()
    )
    parts = _profile(remembered) if remembered is not None else None
    if parts is None:
        remembered_login_forget(request, integration_id=integration.pk)
        return None
    return ReturningParticipant(
        participant_id=remembered.participant_id,
        mapped=profile_map(parts=parts, integration=integration),
    )


def _profile(remembered: RememberedLogin) -> dict[str, dict] | None:
    if isinstance(remembered.profile, UndecryptableSecret):
        logger.warning("remembered login %s: profile not decryptable", remembered.pk)
        return None
    try:
        parts = json.loads(remembered.profile)
    except ValueError:
        return None
    if not isinstance(parts, dict) or not all(isinstance(v, dict) for v in parts.values()):
        return None
    return parts


def remembered_login_forget(request, *, integration_id: int) -> int | None:
    """Forget this browser's remembered login with the integration; returns whose it was."""
    tokens = _tokens(request)
    token = tokens.pop(str(integration_id), None)
    if token is None:
        return None
    _tokens_save(request, tokens)
    remembered = RememberedLogin.objects.filter(token_hash=_hash(token))
    participant_id = remembered.values_list("participant_id", flat=True).first()
    remembered.delete()
    return participant_id


def _remembered_logins_forget_participant(request, *, participant_id: int) -> None:
    tokens = _tokens(request)
    if not tokens:
        return
    hashes = {_hash(token): key for key, token in tokens.items()}
    theirs = list(
        RememberedLogin.objects.filter(
            token_hash__in=list(hashes), participant_id=participant_id
        ).values_list("token_hash", flat=True)
    )
    if not theirs:
        return
    for token_hash in theirs:
        tokens.pop(hashes[token_hash], None)
    RememberedLogin.objects.filter(token_hash__in=theirs).delete()
    _tokens_save(request, tokens)


# ---------------------------------------------------------------------------- "Not you?"
def sso_state_forget(request, campaign: Campaign) -> None:
    """Forget in this browser who logged in on `campaign` ("Not you?"): that person's prefills
    and remembered logins everywhere in this session, and the campaign's logins in progress."""
    forgotten: set[int] = set()
    prefill = prefill_get(request, campaign)
    prefill_clear(request, campaign)
    if prefill is not None:
        forgotten.add(prefill.participant_id)
    if campaign.oauth_integration_id is not None:
        remembered = remembered_login_forget(request, integration_id=campaign.oauth_integration_id)
        if remembered is not None:
            forgotten.add(remembered)
    for participant_id in forgotten:
        prefills_clear_participant(request, participant_id=participant_id)
        _remembered_logins_forget_participant(request, participant_id=participant_id)
    login_attempts_abandon(request=request, campaign=campaign)
