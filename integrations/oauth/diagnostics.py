"""Test connection: is an OAuth integration's IdP reachable, and does it accept our client?

The checks run the real client (`integrations.oauth.client`) against the given settings: the
authorization endpoint must answer, and the token endpoint, sent a deliberately invalid code
with the configured client authentication, must say `invalid_grant` (client accepted, code
refused) rather than `invalid_client`. The settings may be the ones on the administrator's
screen, not saved yet: the outcome is recorded on the integration only when they are its saved
settings (`record_on`), so that "Last test: passed" always speaks of what logins use.
"""

from dataclasses import dataclass

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from integrations.models import IntegrationConfigurationError, OAuthIntegration
from integrations.oauth.client import (
    ClientConfig,
    ProbeResult,
    authorization_endpoint_probe,
    pkce_pair,
    token_endpoint_probe,
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
