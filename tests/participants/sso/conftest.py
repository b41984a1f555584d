"""Shared by the SSO flow tests: a campaign wired to an integration, and the stub IdP."""

import pytest

from tests.idp_stub import IdPStub
from tests.participants.sso_flow import make_sso_campaign


@pytest.fixture
def sso(account):
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
