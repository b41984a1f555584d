"""A pytest fixture that runs the development IdP (`devidp/`) in a subprocess on 127.0.0.1.

Use it from any conftest or test module::

    from tests.devidp_server import devidp  # noqa: F401  (the session-scoped fixture)

    def test_login(devidp):
        devidp.add_client("campaign-sso", "secret", "https://sso.example.test/oauth/callback",
                          pkce_required=True)
        location = devidp.login_and_authorize(authorize_url, "alice", devidp.password)

The IdP has its own SQLite database and RSA key in a temporary directory, migrated and seeded
once per test session. It is a separate process with its own settings, so it never touches the
product's test database. `running_devidp()` starts another one with other settings.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from devidp.accounts.demo import DEMO_PARTICIPANTS, DEMO_PASSWORD

REPO_ROOT = Path(__file__).resolve().parent.parent
MANAGE_PY = REPO_ROOT / "devidp" / "manage.py"
# Generous: CI machines under load take several times the usual ~3 s.
STARTUP_TIMEOUT_SECONDS = 60
COMMAND_TIMEOUT_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10
MAX_IDP_REDIRECTS = 5


class DevIdPError(Exception):
    """The development IdP did not start, or a login did not go as a browser's would."""

    def __init__(self, message: str, response: requests.Response | None = None):
        if response is not None:
            message = f"{message} (HTTP {response.status_code} at {response.url})"
        super().__init__(message)
        self.response = response


@dataclass
class _Form:
    action: str | None
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """Finds forms and their named <input> values, as a browser would submit them."""

    def __init__(self):
        super().__init__()
        self.forms: dict[str, _Form] = {}
        self._current: _Form | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self._current = _Form(action=attributes.get("action"))
            self.forms[attributes.get("id") or f"form-{len(self.forms)}"] = self._current
        elif tag == "input" and self._current is not None and attributes.get("name"):
            self._current.fields[attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def _find_form(response: requests.Response, form_id: str) -> _Form:
    parser = _FormParser()
    parser.feed(response.text)
    if form_id not in parser.forms:
        raise DevIdPError(f"expected the #{form_id} form", response)
    return parser.forms[form_id]


@dataclass
class DevIdP:
    """A running development IdP. `issuer` and the endpoint URLs match its discovery document."""

    base_url: str
    data_dir: Path
    log_path: Path
    # Out of the repr (shown in test failures): the environment holds the admin token.
    env: dict[str, str] = field(repr=False)
    usernames: tuple[str, ...] = tuple(DEMO_PARTICIPANTS)
    password: str = DEMO_PASSWORD
    participants: dict = field(default_factory=lambda: DEMO_PARTICIPANTS, repr=False)

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/o"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/authorize/"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/token/"

    @property
    def userinfo_url(self) -> str:
        return f"{self.issuer}/userinfo/"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/.well-known/jwks.json"

    def manage(self, *args: str) -> str:
        """Run a management command of the IdP against its data; returns its output."""
        try:
            result = subprocess.run(  # noqa: S603 - fixed interpreter and script, our arguments
                [sys.executable, str(MANAGE_PY), *args, "--skip-checks"],
                env=self.env,
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise DevIdPError(f"devidp {args[0]} took over {error.timeout}s") from error
        if result.returncode != 0:
            raise DevIdPError(f"devidp {args[0]} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        *,
        pkce_required: bool,
        algorithm: str = "RS256",
    ) -> None:
        """Register (or reset) a confidential authorization-code client with one exact URI.

        Same effect as `devidp_seed --client-id …`, over the IdP's test-only HTTP endpoint
        (a subprocess per client would cost a Django start-up each).
        """
        response = requests.post(
            f"{self.base_url}/devidp/clients/",
            json={
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uris": [redirect_uri],
                "pkce_required": pkce_required,
                "algorithm": algorithm,
            },
            headers={"Authorization": f"Bearer {self.env['DEVIDP_ADMIN_TOKEN']}"},
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        if response.status_code != 200:
            raise DevIdPError(f"registering {client_id!r} failed: {response.text}", response)

    def login_and_authorize(
        self, url: str, username: str, password: str, *, allow: bool = True
    ) -> str:
        """Log in at the IdP and answer its consent page like a browser, with a fresh session.

        `url` is the full authorization request URL. Returns the Location the IdP redirects
        to outside itself (the client's redirect_uri with `code` or `error`), not followed.
        Raises DevIdPError when the IdP answers anything else (e.g. an error page for a
        redirect_uri it does not know).
        """
        session = requests.Session()
        response = self._get_within_idp(session, url)
        if isinstance(response, str):
            return response  # answered without a login (e.g. an error sent to the client)
        login = _find_form(response, "login-form")
        response = session.post(
            urljoin(response.url, login.action or ""),
            data={**login.fields, "username": username, "password": password},
            allow_redirects=False,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        if response.status_code != 302:
            raise DevIdPError(f"login as {username!r} failed", response)
        response = self._get_within_idp(
            session, urljoin(response.url, response.headers["Location"])
        )
        if isinstance(response, str):
            return response
        consent = _find_form(response, "consent-form")
        data = dict(consent.fields)
        data["allow" if allow else "cancel"] = "Authorize" if allow else "Cancel"
        response = session.post(
            urljoin(response.url, consent.action or ""),
            data=data,
            allow_redirects=False,
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        if response.status_code != 302:
            raise DevIdPError("the consent page did not redirect", response)
        return urljoin(response.url, response.headers["Location"])

    def _get_within_idp(self, session: requests.Session, url: str) -> requests.Response | str:
        """GET, following redirects inside the IdP; a redirect elsewhere is returned as a str."""
        for _ in range(MAX_IDP_REDIRECTS):
            response = session.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT_SECONDS)
            if response.status_code not in (301, 302, 303, 307, 308):
                if response.status_code != 200:
                    raise DevIdPError("the IdP answered with an error page", response)
                return response
            url = urljoin(response.url, response.headers["Location"])
            if not self._is_own_url(url):
                return url
        raise DevIdPError(f"too many redirects inside the IdP, last: {url}")

    def _is_own_url(self, url: str) -> bool:
        own, other = urlsplit(self.base_url), urlsplit(url)
        return (own.scheme, own.netloc) == (other.scheme, other.netloc)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_ready(idp: DevIdP, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DevIdPError(f"the development IdP exited ({process.returncode}):\n{_log(idp)}")
        try:
            if requests.get(idp.discovery_url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise DevIdPError(
        f"the development IdP did not answer within {STARTUP_TIMEOUT_SECONDS}s:\n{_log(idp)}"
    )


def _log(idp: DevIdP) -> str:
    try:
        return idp.log_path.read_text(errors="replace")[-5000:]
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def running_devidp(data_dir: Path, *, env: dict[str, str] | None = None) -> Iterator[DevIdP]:
    """Migrate, seed and serve a development IdP whose data lives in `data_dir`; stop it after.

    `env` adds settings, e.g. `{"DEVIDP_AUTHZ_RESPONSE_ISS": "0"}` for an IdP without RFC 9207.
    """
    process_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DEVIDP_"))
    }
    process_env.update(
        {
            "DEVIDP_DATA_DIR": str(data_dir),
            "DEVIDP_FAST_PASSWORD_HASHING": "1",
            "DEVIDP_ADMIN_TOKEN": secrets.token_urlsafe(32),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
    )
    idp = DevIdP(
        base_url=f"http://127.0.0.1:{_free_port()}",
        data_dir=data_dir,
        log_path=data_dir / "server.log",
        env=process_env,
    )
    idp.manage("migrate", "--noinput", "--verbosity", "0")
    idp.manage("devidp_seed", "--verbosity", "0")
    with idp.log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed interpreter and script
            [
                sys.executable,
                str(MANAGE_PY),
                "runserver",
                "--noreload",
                "--skip-checks",
                idp.base_url.removeprefix("http://"),
            ],
            env=process_env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_ready(idp, process)
        yield idp
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def devidp(tmp_path_factory) -> Iterator[DevIdP]:
    """The development IdP, migrated and seeded, listening on a free 127.0.0.1 port."""
    with running_devidp(tmp_path_factory.mktemp("devidp")) as idp:
        yield idp
