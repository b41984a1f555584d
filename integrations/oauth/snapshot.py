"""The configuration one login is bound to when it starts (no secret).

The callback talks to the IdP the flow was started with (mix-up defence, RFC 9700 §4.4.2) even
if an administrator edits the integration meanwhile; the secret alone is read at callback time,
since it may have been rotated. Stored as JSON on the login attempt; this class is the one
place that names its fields.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from integrations.oauth.client import ClientConfig
from integrations.oauth.models import IdentifierSource, OAuthIntegration
from integrations.oauth.tokens import KeySource


@dataclass(frozen=True)
class FlowSnapshot:
    integration_id: int
    client_id: str
    authorization_endpoint: str
    token_endpoint: str
    # The token request repeats it byte for byte (RFC 6749 §4.1.3).
    redirect_uri: str
    # Which callback path may complete the login: the integration's own `/oauth/callback/<key>`,
    # or the shared `/oauth/callback` (integrations/oauth/redirect_uri.py).
    callback_key: str = ""
    shared_callback: bool = False
    shared_callback_allowed: bool = False
    profile_endpoint: str = ""
    auth_method: str = "client_secret_post"
    scope: str = ""
    use_pkce: bool = True
    issuer: str = ""
    jwks_uri: str = ""
    iss_parameter_supported: bool = False
    identifier_source: str = IdentifierSource.AUTOMATIC
    identifier_field: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 10.0

    @classmethod
    def of(cls, integration: OAuthIntegration, *, redirect_uri: str) -> FlowSnapshot:
        return cls(
            integration_id=integration.pk,
            client_id=integration.client_id,
            authorization_endpoint=integration.authorization_endpoint,
            token_endpoint=integration.token_endpoint,
            redirect_uri=redirect_uri,
            callback_key=integration.callback_key,
            shared_callback=integration.use_shared_callback,
            shared_callback_allowed=integration.shared_callback_allowed,
            profile_endpoint=integration.profile_endpoint,
            auth_method=integration.client_auth_method,
            scope=integration.scope,
            use_pkce=integration.use_pkce,
            issuer=integration.issuer,
            jwks_uri=integration.jwks_uri,
            iss_parameter_supported=integration.iss_parameter_supported,
            identifier_source=integration.identifier_source,
            identifier_field=integration.identifier_field,
            connect_timeout=integration.connect_timeout,
            read_timeout=integration.read_timeout,
        )

    @classmethod
    def from_json(cls, data: dict) -> FlowSnapshot:
        """Read back what `as_json` stored; raises KeyError or TypeError when it is unusable."""
        return cls(**{name: value for name, value in data.items() if name in _FIELD_NAMES})

    def as_json(self) -> dict:
        # Every field is a str, bool, int or float: a flat copy is the JSON (`asdict` would
        # deep-copy each value, a tenth of the login start's CPU).
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    def client_config(self, *, client_secret: str) -> ClientConfig:
        """Raises ValueError for an unknown client authentication method."""
        return ClientConfig(
            client_id=self.client_id,
            client_secret=client_secret,
            authorization_endpoint=self.authorization_endpoint,
            token_endpoint=self.token_endpoint,
            auth_method=self.auth_method,
            scope=self.scope,
            profile_endpoint=self.profile_endpoint,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )

    def key_source(self) -> KeySource | None:
        if not self.jwks_uri:
            return None
        return KeySource(
            jwks_uri=self.jwks_uri,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )


_FIELD_NAMES = tuple(field.name for field in fields(FlowSnapshot))
