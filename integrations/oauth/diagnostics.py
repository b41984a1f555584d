"""Test connection: is an OAuth integration's IdP reachable, and does it accept our client?

The checks run the real client (`integrations.oauth.client`) against the given settings: the
authorization endpoint must answer, and the token endpoint, sent a deliberately invalid code
with the configured client authentication, must say `invalid_grant` (client accepted, code
refused) rather than `invalid_client`. The settings may be the ones on the administrator's
screen, not saved yet: the outcome is recorded on the integration only when they are its saved
settings (`record_on`), so that "Last test: passed" always speaks of what logins use.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from integrations.models import IntegrationConfigurationError, OAuthIntegration
from integrations.oauth.client import (
    ClientConfig,
    OAuthError,
    exchange_code,
    idp_send,
    pkce_pair,
)
from integrations.oauth.redirect_uri import callback_url


@dataclass(frozen=True)
class ConnectionTestResult:
    ok: bool
    checks: tuple[ProbeResult, ...]

    @property
    def message(self) -> str:
        return " ".join(check.message for check in self.checks)


def tested_values(integration: OAuthIntegration, *, secret_typed: bool) -> str:
    """Which settings a test uses, in words for the administrator (never the secret)."""
    secret = "the client secret you typed" if secret_typed else "the stored client secret"
    return (
        f"authorization endpoint {integration.authorization_endpoint}, token endpoint "
        f"{integration.token_endpoint}, client ID {integration.client_id}, {secret}, "
        f"{integration.client_auth_method}, PKCE {'on' if integration.use_pkce else 'off'}, "
        f"redirect URI {callback_url(integration)}"
    )


@sensitive_variables("config")
def integration_test_connection(
    *, integration: OAuthIntegration, user, record_on: OAuthIntegration | None = None
) -> ConnectionTestResult:
    """Run the checks with `integration`'s settings (saved or not) and return the outcome;
    record it on `record_on`, the saved integration, when those are its saved settings."""
    try:
        config = ClientConfig.from_integration(integration)
    except IntegrationConfigurationError as exc:
        # Never call the IdP with a secret we cannot read: it would be the ciphertext.
        checks = (ProbeResult(False, "configuration", f"Not tested: {exc}"),)
    else:
        verifier = pkce_pair()[0] if integration.use_pkce else None
        checks = (
            authorization_endpoint_probe(config),
            token_endpoint_probe(
                config, redirect_uri=callback_url(integration), code_verifier=verifier
            ),
        )
    result = ConnectionTestResult(ok=all(check.ok for check in checks), checks=checks)
    if record_on is not None:
        record_on.last_test_at = timezone.now()
        record_on.last_test_by = user
        record_on.last_test_ok = result.ok
        record_on.last_test_message = result.message
        record_on.save(
            update_fields=["last_test_at", "last_test_by", "last_test_ok", "last_test_message"]
        )
    return result


# ---------------------------------------------------------------------------- the probes
@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one "Test connection" check, in plain words."""

    ok: bool
    code: str
    message: str
    status_code: int | None = None


def authorization_endpoint_probe(config: ClientConfig) -> ProbeResult:
    """Does the authorization endpoint answer? Any answer below 500 counts as reachable."""
    try:
        response = idp_send(
            config,
            "GET",
            config.authorization_endpoint,
            step="authorize",
            headers={"Accept": "text/html"},
        )
    except OAuthError as error:
        if error.code == "authorize_too_large":  # it answered; we just stopped reading
            return ProbeResult(True, "reachable", "The authorization endpoint answers.")
        return ProbeResult(False, error.code, str(error))
    status = response.status_code
    if status >= 500:
        return ProbeResult(
            False,
            "authorize_http",
            f"The authorization endpoint answered with a server error (HTTP {status}).",
            status,
        )
    return ProbeResult(
        True, "reachable", f"The authorization endpoint answers (HTTP {status}).", status
    )


_PROBE_MESSAGES = {
    "invalid_request": (
        "The token endpoint refused the request as malformed (invalid_request): check the "
        "client authentication method."
    ),
    "unauthorized_client": (
        "The IdP does not allow this client to use the authorization code grant "
        "(unauthorized_client)."
    ),
    "unsupported_grant_type": (
        "The IdP does not support the authorization code grant at this endpoint "
        "(unsupported_grant_type)."
    ),
    "invalid_scope": "The IdP refused the token scope (invalid_scope).",
    "token_invalid_json": (
        "The token endpoint did not answer with JSON: check that the URL is the token "
        "endpoint, not a web page."
    ),
}


@sensitive_variables()
def token_endpoint_probe(
    config: ClientConfig, *, redirect_uri: str, code_verifier: str | None = None
) -> ProbeResult:
    """Send the token endpoint a deliberately invalid code with the configured client auth.

    An IdP checks the client before the code (RFC 6749 §4.1.3), so `invalid_grant` means the
    credentials were accepted and `invalid_client` (or 401) means they were not.
    """
    invalid_code = "campaign-sso-connection-test-" + secrets.token_hex(8)
    try:
        exchange_code(
            config, code=invalid_code, redirect_uri=redirect_uri, code_verifier=code_verifier
        )
    except OAuthError as exc:
        if exc.code == "invalid_grant":
            return ProbeResult(
                True,
                "credentials_accepted",
                "The token endpoint accepted the client credentials (it refused only the "
                "test code, as expected).",
                exc.status_code,
            )
        if exc.code == "invalid_client":
            return ProbeResult(
                False,
                "invalid_client",
                "The IdP rejected the client credentials: check the secret and the "
                "authentication method.",
                exc.status_code,
            )
        return ProbeResult(
            False, exc.code, _PROBE_MESSAGES.get(exc.code, str(exc)), exc.status_code
        )
    return ProbeResult(
        False,
        "invalid_code_accepted",
        "The token endpoint issued tokens for an invalid code: it does not behave like an "
        "OAuth 2.0 token endpoint.",
        200,
    )
