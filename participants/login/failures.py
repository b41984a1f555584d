"""The failure catalogue: every way a participant's login can fail, in one place.

Each error code declares its **kind** (which page the participant gets, `PAGES`), its **class**
(whose failure it is: the configuration's, the IdP's or the participant's) and the **advice**
the account's administrators read in a sign-in alert and the SSO activity log. `failure_of()` is
the one lookup; the class is stored on the login attempt when it fails, so that the activity
log counts and filters by it without recomputing it.

- **configuration**: only the account's administrators can end it (the IdP rejects the client
  secret, an id_token for another audience, a mapping that requires what the IdP never sends);
  it raises a sign-in alert.
- **idp**: the IdP is down or slow; it passes by itself, and the circuit breaker covers it.
- **participant**: one person's (they cancelled at the IdP, their link expired, they came back
  in another browser).

What the callback's query string says (`error=invalid_client`, a wrong `iss`, the state, the
path) is never the configuration's: anyone can open such a URL, so a failure at a front-channel
step is the participant's, where it cannot raise an alert. Only what the IdP answers over our
own connection to it (token, id_token, JWKS, profile) may be the configuration's.
"""

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from integrations.oauth.answer import IdPAnswerError

CONFIGURATION = "configuration"
IDP = "idp"
PARTICIPANT = "participant"
FAILURE_CLASSES = (CONFIGURATION, IDP, PARTICIPANT)


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
PAGES: dict[str, Failure] = {
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


# ---------------------------------------------------------------------------- the catalogue
# Steps whose failures the callback's query string decides: never the configuration's.
FRONT_CHANNEL_STEPS = frozenset({"callback", "state", "authorize"})
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
# Profile endpoint failures that are the IdP's (it failed to answer); others are the
# configuration's (it answered something unusable).
_IDP_PROFILE_SUFFIXES = ("_timeout", "_connection", "_tls", "_failed", "_http")

DEFAULT_ADVICE = (
    "Look the error reference up in the SSO activity log, and run a Test login from the "
    "integration page to see the IdP's answer."
)


@dataclass(frozen=True)
class Entry:
    kind: str
    klass: str
    advice: str = DEFAULT_ADVICE


_CHECK_GRANTS = (
    "The IdP does not accept the authorization code grant from this client. Check the grant "
    "types allowed to the client at the IdP."
)
_CHECK_JWKS = (
    "No key at the JWKS URI verifies the id_token's signature. Check the JWKS URI (Advanced)."
)
_NOT_MATCHED = Entry("state_unknown", PARTICIPANT)
# Codes with a fixed kind and class. Codes made from a family (`<step>_timeout`, `idp_<error>`)
# are in `_family` below.
CATALOGUE: dict[str, Entry] = {
    # The callback's path and query, and the state (front channel).
    "invalid_parameters": Entry("repeated_parameters", PARTICIPANT),
    "callback_mismatch": Entry("callback_mismatch", PARTICIPANT),
    "shared_callback_refused": Entry("shared_callback_refused", PARTICIPANT),
    "state_missing": Entry("state_missing", PARTICIPANT),
    "state_unknown": _NOT_MATCHED,
    "state_reused": Entry("state_reused", PARTICIPANT),
    "state_expired": Entry("state_expired", PARTICIPANT),
    "state_other_browser": Entry("state_other_browser", PARTICIPANT),
    # The frame's visit ended meanwhile: no one could redeem its ticket.
    "embed_session_expired": Entry("state_expired", PARTICIPANT),
    "iss_mismatch": Entry(
        "issuer_mismatch",
        PARTICIPANT,
        "The IdP answered as another issuer than the one configured. Check the Issuer field "
        "(Advanced), or import the IdP's discovery URL again.",
    ),
    "iss_missing": Entry(
        "issuer_mismatch",
        PARTICIPANT,
        "The IdP's discovery says it sends its issuer with each answer, but it did not. Check "
        "the Issuer settings (Advanced), or import the IdP's discovery URL again.",
    ),
    "idp_access_denied": Entry("access_denied", PARTICIPANT),
    "code_missing": Entry("idp_configuration", PARTICIPANT),
    # Switched off, closed, or unusable before any call to the IdP.
    "integration_unavailable": Entry("integration_unavailable", PARTICIPANT),
    "campaign_unavailable": Entry("integration_unavailable", PARTICIPANT),
    "integration_unusable": Entry(
        "integration_unavailable",
        CONFIGURATION,
        "The integration's settings cannot be used (the client secret cannot be decrypted). "
        "Enter the client secret again.",
    ),
    # The IdP is paused (circuit breaker) or at its cap of concurrent logins (bulkhead).
    "circuit_open": Entry(
        "idp_unavailable",
        IDP,
        "Your IdP's token endpoint failed several logins in a row (timeouts, refused "
        "connections or server errors). Logins with it pause for a short while at a time and "
        "resume by themselves once it answers again. Check that your IdP is up.",
    ),
    "idp_busy": Entry("idp_unavailable", IDP),
    # The token endpoint's answers.
    "invalid_grant": Entry("code_expired", PARTICIPANT),
    "invalid_client": Entry(
        "idp_configuration",
        CONFIGURATION,
        "The IdP rejected the client credentials. Check the client ID, the client secret and "
        "the client authentication method.",
    ),
    "unauthorized_client": Entry(
        "idp_configuration",
        CONFIGURATION,
        "The IdP does not let this client use the authorization code flow. Check the grant "
        "types allowed to the client at the IdP.",
    ),
    "unsupported_grant_type": Entry("idp_configuration", CONFIGURATION, _CHECK_GRANTS),
    "invalid_scope": Entry(
        "idp_configuration",
        CONFIGURATION,
        "The IdP refused the requested scope. Check the Scope field against the scopes the "
        "IdP allows this client.",
    ),
    "invalid_request": Entry(
        "idp_configuration",
        CONFIGURATION,
        "The IdP refused the login request. Check the client ID, and that the callback URL "
        "shown on the integration page is registered at the IdP exactly as shown.",
    ),
    # The id_token and the JWT access token.
    "jwks_unavailable": Entry("idp_unavailable", IDP),
    # A replayed or injected token, not a setting.
    "id_token_nonce_mismatch": Entry("id_token_invalid", PARTICIPANT),
    "id_token_missing": Entry(
        "id_token_invalid",
        CONFIGURATION,
        "The scope asks for OpenID Connect (openid) but the IdP sent no id_token. Check the "
        "scope and the client's settings at the IdP.",
    ),
    "id_token_wrong_issuer": Entry(
        "id_token_invalid",
        CONFIGURATION,
        "The id_token names another issuer than the one configured. Check the Issuer field "
        "(Advanced).",
    ),
    "id_token_wrong_audience": Entry(
        "id_token_invalid",
        CONFIGURATION,
        "The id_token was issued to another client. Check the client ID.",
    ),
    "id_token_invalid_signature": Entry("id_token_invalid", CONFIGURATION, _CHECK_JWKS),
    "id_token_unknown_key": Entry(
        "id_token_invalid",
        CONFIGURATION,
        "The id_token is signed with a key that is not at the JWKS URI. Check the JWKS URI "
        "(Advanced).",
    ),
    "id_token_no_keys": Entry(
        "id_token_invalid",
        CONFIGURATION,
        "The IdP sends id_tokens but no JWKS URI is set (Advanced).",
    ),
    "id_token_unsupported_alg": Entry(
        "id_token_invalid",
        CONFIGURATION,
        "The IdP signs id_tokens with an algorithm we do not accept. Ask for RS256 or ES256.",
    ),
    # The profile, the identity and the mapping.
    "subject_missing": Entry(
        "profile_failed",
        CONFIGURATION,
        "The IdP's profile has no subject identifier (sub). Check the scope and the profile "
        "endpoint.",
    ),
    "required_missing": Entry(
        "mapping_incomplete",
        CONFIGURATION,
        "Profiles lack a value that the profile mapping requires. Check the scope, and run a "
        "Test login to see what the IdP sends.",
    ),
}


def failure_of(*, step: str, code: str, temporary: bool = False) -> Entry:
    """The catalogue's entry for a failure at `step` with `code`. `temporary`: the IdP said, or
    behaved as if, trying again later may work (a token endpoint's 5xx)."""
    # A profile endpoint's failure is a profile failure whatever its code says.
    entry = (CATALOGUE.get(code) if step != "userinfo" else None) or _family(step, code, temporary)
    if step in FRONT_CHANNEL_STEPS and entry.klass != PARTICIPANT:
        # The IdP's own error codes come back in the query string too (`error=invalid_client`):
        # the same advice, but the participant's class, since anyone can forge that URL.
        return Entry(entry.kind, PARTICIPANT, entry.advice)
    return entry


def _family(step: str, code: str, temporary: bool) -> Entry:
    if step == "authorize" and code.startswith("idp_"):
        error = code.removeprefix("idp_")
        advice = CATALOGUE[error].advice if error in CATALOGUE else DEFAULT_ADVICE
        kind = "idp_unavailable" if error in RETRYABLE_IDP_ERRORS else "idp_configuration"
        return Entry(kind, PARTICIPANT, advice)
    if step == "userinfo":
        klass = IDP if code.endswith(_IDP_PROFILE_SUFFIXES) else CONFIGURATION
        return Entry("profile_failed", klass)
    if step in ("id_token", "access_token"):
        return Entry("id_token_invalid", CONFIGURATION)
    if code.endswith("_timeout"):
        return Entry("idp_timeout", IDP)
    if temporary:
        return Entry("idp_unavailable", IDP)
    if step == "token":
        return Entry("idp_configuration", CONFIGURATION)
    return Entry("state_unknown", PARTICIPANT)


def advice_for(error_code: str) -> str:
    """What to check for a failure recorded with `error_code` (the IdP's authorization error
    codes come prefixed "idp_")."""
    entry = CATALOGUE.get(error_code) or CATALOGUE.get(error_code.removeprefix("idp_"))
    return entry.advice if entry is not None else DEFAULT_ADVICE


# ---------------------------------------------------------------------------- the exception
class LoginFailure(Exception):
    """Ends the callback: the catalogue gives its page (`kind`) and its class; `step` and
    `code` go to the SSO activity log."""

    def __init__(
        self,
        *,
        step: str,
        code: str,
        attempt=None,
        detail: str = "",
        temporary: bool = False,
        retry_after: int | None = None,
        circuit_opened: bool = False,
        missing: list[str] | None = None,
        idp_ms: int | None = None,
    ) -> None:
        super().__init__(f"{step}:{code}")
        self.step = step
        self.code = code
        self.attempt = attempt
        self.detail = detail
        # Seconds the page's Retry-After header asks to wait (the IdP is paused or busy).
        self.retry_after = retry_after
        # This failure was the one that opened the IdP's circuit breaker (an outage).
        self.circuit_opened = circuit_opened
        # The variables a required mapping rule found no value for.
        self.missing = missing or []
        self.idp_ms = idp_ms
        self.entry = failure_of(step=step, code=code, temporary=temporary)

    @classmethod
    def from_answer(cls, error: IdPAnswerError, *, attempt) -> "LoginFailure":
        return cls(
            step=error.step,
            code=error.code,
            attempt=attempt,
            detail=error.detail,
            temporary=error.temporary,
            retry_after=error.retry_after,
            circuit_opened=error.circuit_opened,
            idp_ms=error.idp_ms,
        )

    @property
    def kind(self) -> str:
        return self.entry.kind

    @property
    def klass(self) -> str:
        return self.entry.klass

    @property
    def page(self) -> "Failure":
        return PAGES[self.entry.kind]

    @property
    def raises_alert(self) -> bool:
        """A configuration failure of a real login raises the integration's alert, and so does
        an IdP outage, once it opens the circuit breaker (RF-04). Test logins don't (the
        administrator is looking at the result)."""
        attempt = self.attempt
        if attempt is None or attempt.is_test or attempt.integration_id is None:
            return False
        return self.circuit_opened or self.klass == CONFIGURATION

    @property
    def alert_code(self) -> str:
        return "circuit_open" if self.circuit_opened else self.code
