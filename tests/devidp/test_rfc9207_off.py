"""An IdP without RFC 9207, started for this module only: no `iss` in its responses."""

import pytest
import requests

from tests.devidp.flows import TIMEOUT, authorization_url, callback_params
from tests.devidp_server import running_devidp

pytestmark = pytest.mark.e2e

REDIRECT_URI = "https://sso.example.test/oauth/callback"


@pytest.fixture(scope="module")
def idp_without_iss(tmp_path_factory):
    with running_devidp(
        tmp_path_factory.mktemp("devidp-no-iss"), env={"DEVIDP_AUTHZ_RESPONSE_ISS": "0"}
    ) as idp:
        idp.add_client("no-iss", "secret", REDIRECT_URI, pkce_required=False)
        yield idp


@pytest.mark.parametrize("allow", [True, False], ids=["allowed", "cancelled"])
def test_authorization_response_has_no_iss(idp_without_iss, allow):
    location = idp_without_iss.login_and_authorize(
        authorization_url(idp_without_iss, "no-iss", REDIRECT_URI),
        "alice",
        idp_without_iss.password,
        allow=allow,
    )

    params = callback_params(location)
    assert "iss" not in params
    assert ("code" in params) is allow


def test_discovery_does_not_announce_iss(idp_without_iss):
    discovery = requests.get(idp_without_iss.discovery_url, timeout=TIMEOUT).json()

    assert "authorization_response_iss_parameter_supported" not in discovery
