"""TE-03 / TE-08 / point 0.3: how every call to an IdP is made, whatever the caller."""

from integrations.egress.policy import Purpose
from integrations.egress.transport import session_for


def test_idp_calls_verify_tls_ignore_the_environment_and_never_retry():
    session = session_for(Purpose.IDP)
    assert session.verify is True  # TLS verification on
    assert session.trust_env is False  # no proxy or netrc credentials from the environment
    for adapter in session.adapters.values():
        # A token POST that may have reached the IdP is never sent again (RFC 6749 §4.1.2).
        assert adapter.max_retries.total == 0
