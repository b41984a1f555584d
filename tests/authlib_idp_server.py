"""A pytest fixture that runs the Authlib-based IdP (`tests/authlib_idp_app.py`) in a subprocess
on 127.0.0.1, once per test session::

    from tests.authlib_idp_server import authlib_idp  # noqa: F401

    def test_login(authlib_idp):
        authlib_idp.add_client("c", "secret", redirect_uri, auth_method="client_secret_basic")
        location = authlib_idp.login_and_authorize(authorize_url, "alice", authlib_idp.password)
"""

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from devidp.accounts.demo import DEMO_PASSWORD
from tests.devidp_server import DevIdPError, _find_form, _free_port, _stop

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 30
HTTP_TIMEOUT_SECONDS = 10


@dataclass
class AuthlibIdP:
    """A running Authlib IdP. `tenant` "acme" serves a discovery document, "bare" none."""

    base_url: str
    log_path: Path
    admin_token: str = field(repr=False)
    password: str = DEMO_PASSWORD

    def issuer(self, tenant: str = "acme") -> str:
        return f"{self.base_url}/t/{tenant}"

    def authorize_url(self, tenant: str = "acme") -> str:
        return f"{self.issuer(tenant)}/authorize"

    def token_url(self, tenant: str = "acme") -> str:
        return f"{self.issuer(tenant)}/token"

    def userinfo_url(self, tenant: str = "acme") -> str:
        return f"{self.issuer(tenant)}/userinfo"

    def rest_profile_url(self, tenant: str = "acme") -> str:
        return f"{self.issuer(tenant)}/api/me"

    def jwks_url(self, tenant: str = "acme") -> str:
        return f"{self.issuer(tenant)}/jwks"

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        *,
        auth_method: str,
        jwt_access_token: bool = False,
        token_extras: str = "",
    ) -> None:
        """Register (or reset) a confidential client with one exact redirect URI and one
        client authentication method; `token_extras` puts the user in the token answer
        ("user_id", "strava", "slack")."""
        response = requests.post(
            f"{self.base_url}/admin/clients",
            json={
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": redirect_uri,
                "auth_method": auth_method,
                "jwt_access_token": jwt_access_token,
                "token_extras": token_extras,
            },
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        if response.status_code != 200:
            raise DevIdPError(f"registering {client_id!r} failed: {response.text}", response)

    def login_and_authorize(self, url: str, username: str, password: str) -> str:
        """Log in on the authorization page like a browser; returns where the IdP sends the
        browser (the client's redirect URI with `code` or `error`), not followed."""
        session = requests.Session()
        page = session.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT_SECONDS)
        if page.status_code != 200:
            raise DevIdPError("the authorization request was refused", page)
        login = _find_form(page, "login-form")
        response = session.post(
            urljoin(page.url, login.action or ""),
            data={**login.fields, "username": username, "password": password},
            allow_redirects=False,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        if response.status_code != 302:
            raise DevIdPError(f"login as {username!r} did not redirect", response)
        return urljoin(response.url, response.headers["Location"])


def _wait_until_ready(idp: AuthlibIdP, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    url = f"{idp.issuer()}/.well-known/openid-configuration"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DevIdPError(f"the Authlib IdP exited:\n{idp.log_path.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise DevIdPError(f"the Authlib IdP did not answer within {STARTUP_TIMEOUT_SECONDS}s")


@pytest.fixture(scope="session")
def authlib_idp(tmp_path_factory) -> Iterator[AuthlibIdP]:
    """The Authlib IdP, listening on a free 127.0.0.1 port."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("authlib-idp") / "server.log"
    admin_token = secrets.token_urlsafe(32)
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "AUTH"))
    }
    env.update({"AUTHLIB_IDP_ADMIN_TOKEN": admin_token, "PYTHONUNBUFFERED": "1"})
    idp = AuthlibIdP(
        base_url=f"http://127.0.0.1:{port}", log_path=log_path, admin_token=admin_token
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed interpreter and module
            [sys.executable, "-m", "tests.authlib_idp_app", "--port", str(port)],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(idp, process)
        yield idp
    finally:
        _stop(process)
