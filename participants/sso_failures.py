"""How a participant's login can fail: the page each failure gets (title, message, HTTP status,
whether "try again" is offered) and the exception that ends the callback with one of them.

`participants/views_sso.py` raises `FlowError(kind, step=…, code=…)`; `kind` picks the page
here, `step` and `code` go to the SSO activity log, and `participants/sign_in_health.py` counts
the kinds by class.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from integrations.oauth import OAuthError


@dataclass(frozen=True)
class Failure:
    title: str
    message: str
    status: int
    # Offer "try again" (a new login) on the page.
    retry: bool = True
    # Whether trying again may work by itself; when only the organiser's settings can fix it,
    # "try again" is not the page's main button.
    retry_helps: bool = True


_NOT_MATCHED = Failure(
    _("This sign-in cannot be completed"),
    _(
        "We could not match this answer to a sign-in started in this browser. "
        "Please go back to the campaign and log in again."
    ),
    400,
    retry=False,
)
FAILURES: dict[str, Failure] = {
    "repeated_parameters": _NOT_MATCHED,
    # The state came back on another integration's callback URL: a mix-up, or a stale bookmark.
    "callback_mismatch": _NOT_MATCHED,
    "shared_callback_refused": Failure(
        _("This sign-in link is not configured"),
        _(
            "The sign-in service sent you back to an address that is not set up for this "
            "campaign, so we cannot accept this sign-in. The organiser has to update its "
            "settings; you can go back to the campaign meanwhile."
        ),
        400,
        retry=False,
    ),
    "state_missing": _NOT_MATCHED,
    "state_unknown": _NOT_MATCHED,
    "state_reused": Failure(
        _("This sign-in has already been used"),
        _("This sign-in link can only be used once. Please log in again."),
        400,
    ),
    "state_expired": Failure(
        _("Your sign-in took too long"),
        _(
            "For your security, a sign-in must be completed within a few minutes. "
            "Please log in again."
        ),
        400,
    ),
    "state_other_browser": Failure(
        _("This sign-in was started in another browser"),
        _("Please log in again from this browser."),
        400,
    ),
    "access_denied": Failure(
        _("Sign-in was cancelled"),
        _("You cancelled the sign-in, or did not allow sharing your profile."),
        400,
    ),
    "idp_unavailable": Failure(
        _("The sign-in service is not available right now"),
        _("The sign-in service could not complete your request. Please try again in a moment."),
        503,
    ),
    "idp_configuration": Failure(
        _("Sign-in is not possible at the moment"),
        _(
            "The sign-in service refused the request. The organiser has to check the "
            "settings; please try again later."
        ),
        502,
        retry_helps=False,
    ),
    "issuer_mismatch": Failure(
        _("We could not verify this sign-in"),
        _("The answer did not come from the expected sign-in service. Please log in again."),
        400,
    ),
    "integration_unavailable": Failure(
        _("Sign-in is not available right now"),
        _("Logging in is not available for this campaign at the moment."),
        503,
        retry=False,
    ),
    "code_expired": Failure(
        _("Your sign-in expired"),
        _("The sign-in was not accepted any more. Please log in again."),
        400,
    ),
    "idp_timeout": Failure(
        _("The sign-in service did not answer in time"),
        _("The sign-in service is slow or unreachable right now. Please try again in a moment."),
        504,
    ),
    "id_token_invalid": Failure(
        _("We could not verify this sign-in"),
        _("The sign-in service's answer could not be verified. Please log in again."),
        502,
    ),
    "profile_failed": Failure(
        _("We could not read your profile"),
        _("The sign-in worked but your profile could not be read. Please try again."),
        502,
    ),
    "mapping_incomplete": Failure(
        _("Some information is missing from your profile"),
        _("Your sign-in service did not give us the following information:"),
        422,
        retry_helps=False,
    ),
}
ERROR_CODE = re.compile(r"[a-z0-9_]{1,40}")
# Authorization error codes (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6) that may pass on retry.
RETRYABLE_IDP_ERRORS = frozenset(
    {
        "server_error",
        "temporarily_unavailable",
        "login_required",
        "interaction_required",
        "consent_required",
        "account_selection_required",
    }
)


# Steps whose failures the callback's query string decides (`error`, `iss`, `state`, the path):
# anyone can forge those by opening a URL, so they never raise a sign-in alert or count as the
# configuration's failures. Only what the IdP says over our own connection to it may.
FRONT_CHANNEL_STEPS = frozenset({"callback", "state", "authorize"})


class FlowError(Exception):
    """Ends the callback: `kind` picks the participant's page, `step` and `code` the log."""

    def __init__(
        self, kind: str, *, step: str, code: str, detail: str = "", retry_after: int | None = None
    ) -> None:
        super().__init__(f"{step}:{code}")
        self.kind = kind
        self.step = step
        self.code = code
        self.detail = detail
        # Seconds the page's Retry-After header asks to wait (the IdP is paused or busy).
        self.retry_after = retry_after
        self.missing: list[str] = []
        # This failure was the one that opened the IdP's circuit breaker (an outage).
        self.circuit_opened = False


def oauth_failure_kind(exc: OAuthError) -> str:
    if exc.code == "invalid_grant":
        return "code_expired"
    if exc.code.endswith("_timeout"):
        return "idp_timeout"
    if exc.retryable:
        return "idp_unavailable"
    return "idp_configuration"
