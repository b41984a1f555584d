"""Test connection: is an OAuth integration's IdP reachable, and does it accept our client?

The checks run the real client (`integrations.oauth`) against the configured endpoints: the
authorization endpoint must answer, and the token endpoint, sent a deliberately invalid code
with the configured client authentication, must say `invalid_grant` (client accepted, code
refused) rather than `invalid_client`. The outcome is recorded on the integration.
"""

from dataclasses import dataclass

from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .callback import callback_url
from .models import IntegrationConfigurationError, OAuthIntegration
from .oauth import (
    ClientConfig,
    ProbeResult,
    authorization_endpoint_probe,
    pkce_pair,
    token_endpoint_probe,
)


@dataclass(frozen=True)
class ConnectionTestResult:
    ok: bool
    checks: tuple[ProbeResult, ...]

    @property
    def message(self) -> str:
        return " ".join(check.message for check in self.checks)


@sensitive_variables("config")
def integration_test_connection(*, integration: OAuthIntegration, user) -> ConnectionTestResult:
    """Run the checks, record the outcome on the integration, and return it."""
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
    integration.last_test_at = timezone.now()
    integration.last_test_by = user
    integration.last_test_ok = result.ok
    integration.last_test_message = result.message
    integration.save(
        update_fields=["last_test_at", "last_test_by", "last_test_ok", "last_test_message"]
    )
    return result
