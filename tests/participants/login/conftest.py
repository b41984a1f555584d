"""Shared by the login tests: a campaign wired to an integration, the stub IdP, and the
development IdP for the end-to-end tests."""

import pytest

from tests.devidp_server import devidp  # noqa: F401  (session fixture for the e2e tests)
from tests.idp_stub import IdPStub
from tests.participants.login.sso_flow import make_sso_campaign


@pytest.fixture
def sso(account):
    """(campaign, integration): an SSO campaign whose integration maps three variables."""
    return make_sso_campaign(account)


@pytest.fixture
def campaign(sso):
    """The SSO campaign (it replaces tests/participants/conftest.py's manual-form campaign)."""
    return sso[0]


@pytest.fixture
def integration(sso):
    return sso[1]


@pytest.fixture
def idp():
    return IdPStub()
