"""Who this browser is logged in as on the campaigns, and forgetting it: "Not you?".

A login leaves in the session the prefill of its campaign (participants/prefill.py). On a shared
computer the next person must be able to drop it without submitting anything: `sso_state_forget`
removes the campaign's prefill, every other campaign's prefill of the same participant, and the
logins this browser started on the campaign that have not come back from the IdP yet.
"""

from campaigns.models import Campaign

from .prefill import prefill_clear, prefill_get, prefills_clear_participant
from .session import login_attempts_abandon


def sso_state_forget(request, campaign: Campaign) -> None:
    """Forget in this browser who logged in on `campaign` ("Not you?")."""
    prefill = prefill_get(request, campaign)
    prefill_clear(request, campaign)
    if prefill is not None:
        prefills_clear_participant(request, participant_id=prefill.participant_id)
    login_attempts_abandon(request=request, campaign=campaign)
