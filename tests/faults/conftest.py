import pytest

from tests.faults.servers import LoopbackIdP
from tests.participants.sso_flow import callback, login_start, make_sso_campaign

# Short enough that a hung IdP costs the suite half a second, long enough for a loaded machine
# to answer a healthy loopback request.
READ_TIMEOUT = 0.5


@pytest.fixture
def idp():
    with LoopbackIdP() as server:
        yield server


@pytest.fixture
def sso(account, idp):
    return make_sso_campaign(
        account,
        issuer=idp.base,
        token_endpoint=f"{idp.base}/token",
        jwks_uri=f"{idp.base}/jwks",
        connect_timeout=READ_TIMEOUT,
        read_timeout=READ_TIMEOUT,
    )


@pytest.fixture
def campaign(sso):
    return sso[0]


@pytest.fixture
def integration(sso):
    return sso[1]


def log_in(client, campaign, idp):
    """Login start, then the callback as the IdP would send the browser back."""
    started = login_start(client, campaign)
    idp.nonce = started.nonce
    return callback(client, started)
