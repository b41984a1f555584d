"""Misbehaving servers on 127.0.0.1 for the fault tests: real sockets, no mocks.

- `LoopbackIdP`: an IdP whose token and JWKS endpoints answer normally or fail the way a test
  says (`"hang"`, `"down"`, a status code, `"garbage"`, `"huge"`, `"deep"`);
- `silent_port()`: a socket that accepts connections and never answers (a hung IdP);
- `closed_port()`: a port nothing listens on (connection refused);
- `WebhookReceiver`: a webhook receiver that answers late, with a chosen status, or never;
- `RedisServer`: a Redis process of its own on a free loopback port, killed and started again
  on the same port by the test;
- `PostgresCluster`: a PostgreSQL cluster of its own (initdb + pg_ctl in a temporary directory)
  on a free loopback port, stopped ("crashed") and started again by the test.

The last two are the fault suite's outages: real processes that really go away.
"""

import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.idp_stub import IdPStub

HUGE_BODY_BYTES = 50 * 1024 * 1024
_CHUNK = b" " * 65536


@contextlib.contextmanager
def silent_port():
    """A port whose connections are accepted by the kernel and then never answered."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class LoopbackIdP:
    """A token endpoint, userinfo and JWKS on a real loopback port.

    `token` and `jwks` say how each endpoint behaves: "ok", "hang" (never answers; the client's
    read timeout ends it), "hold" (answers nothing until the test calls `let_go()`, which ends
    one held request with a 503: a hung IdP whose requests the test ends one at a time),
    "garbage" (200 with HTML), "huge" (200 streaming 50 MB), "deep" (200 with valid JSON
    10 000 objects deep), "invalid_grant" (400, the code refused), or an HTTP status code (with
    an HTML page). `nonce` must be set to the login's nonce before the callback.
    """

    def __init__(self) -> None:
        self.token: str | int = "ok"
        self.jwks: str | int = "ok"
        self.nonce: str | None = None
        self.calls: dict[str, int] = {"token": 0, "jwks": 0, "userinfo": 0}
        # Every token request's form body, as it arrived (what a malicious IdP would collect).
        self.token_bodies: list[str] = []
        self.huge_bytes_sent = 0
        self._release = threading.Event()
        self._let_go = threading.Semaphore(0)
        idp = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.startswith("/jwks"):
                    idp.calls["jwks"] += 1
                    return idp._answer(self, idp.jwks, lambda: idp.stub.jwks())
                if self.path.startswith("/userinfo"):
                    idp.calls["userinfo"] += 1
                    return idp._json(self, 200, {"sub": "user-123", "given_name": "Ada"})
                self.send_error(404)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                idp.token_bodies.append(self.rfile.read(length).decode("utf-8", "replace"))
                idp.calls["token"] += 1
                return idp._answer(self, idp.token, idp._tokens)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.stub = IdPStub(issuer=self.base)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._release.set()
        self._let_go.release(1000)
        self._server.shutdown()
        self._server.server_close()

    def let_go(self) -> None:
        """Answer one held request (503)."""
        self._let_go.release()

    # ------------------------------------------------------------------ answers
    def _tokens(self) -> dict:
        return {
            "access_token": "opaque-access-token",
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.stub.id_token(nonce=self.nonce, given_name="Ada", email="a@b.example"),
        }

    def _json(self, handler, status: int, data: dict) -> None:
        body = json.dumps(data).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def _answer(self, handler, behaviour, body) -> None:
        if behaviour == "ok":
            return self._json(handler, 200, body())
        if behaviour == "hang":
            self._release.wait(10)  # far past any read timeout the tests configure
            return None
        if behaviour == "hold":
            self._let_go.acquire(timeout=60)
            return self._answer(handler, 503, body)
        if behaviour == "garbage":
            page = b"<html><body>Service temporarily unavailable</body></html>"
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(page)))
            handler.end_headers()
            handler.wfile.write(page)
            return None
        if behaviour == "huge":
            return self._huge(handler)
        if behaviour == "deep":
            # Written by hand: json.dumps itself cannot nest this deeply.
            deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(deep)))
            handler.end_headers()
            handler.wfile.write(deep)
            return None
        if behaviour == "invalid_grant":
            return self._json(handler, 400, {"error": "invalid_grant"})
        # What a load balancer in front of a broken IdP sends: a status and an HTML page.
        page = f"<html><body>HTTP {behaviour}</body></html>".encode()
        handler.send_response(int(behaviour))
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(page)))
        handler.end_headers()
        handler.wfile.write(page)
        return None

    def _huge(self, handler) -> None:
        """200 with a 50 MB JSON-looking body, written until the client stops reading."""
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(HUGE_BODY_BYTES))
        handler.end_headers()
        handler.wfile.write(b'{"access_token": "')
        self.huge_bytes_sent = 0
        started = time.monotonic()
        try:
            while self.huge_bytes_sent < HUGE_BODY_BYTES and time.monotonic() - started < 10:
                handler.wfile.write(_CHUNK)
                self.huge_bytes_sent += len(_CHUNK)
        except OSError:
            pass  # the client closed the connection: it stopped reading


class WebhookReceiver:
    """A webhook receiver on 127.0.0.1: answers `status` (with `headers`) after `delay` seconds
    and records the `webhook-id` of every request.

    `hold=n`: the next n requests are read and then never answered (a receiver that hangs
    mid-delivery), until the receiver stops; their ids are in `held`. `dribble=s`: the answer's
    body (20 bytes) takes s seconds, a byte at a time. `answered` lists the ids of the requests
    it answered, and `max_in_flight` the most it was answering at once (held requests aside)."""

    def __init__(
        self,
        *,
        status: int = 204,
        delay: float = 0.0,
        headers: dict | None = None,
        hold: int = 0,
        dribble: float = 0.0,
    ):
        self.status = status
        self.delay = delay
        self.headers = headers or {}
        self.hold = hold
        self.dribble = dribble
        self.ids: list[str] = []
        self.held: list[str] = []
        self.answered: list[str] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                webhook_id = self.headers.get("webhook-id", "")
                with receiver._lock:
                    receiver.ids.append(webhook_id)
                    held = receiver.hold > 0
                    if held:
                        receiver.hold -= 1
                        receiver.held.append(webhook_id)
                    else:
                        receiver._in_flight += 1
                        receiver.max_in_flight = max(receiver.max_in_flight, receiver._in_flight)
                if held:
                    receiver._stop.wait(120)
                    self.close_connection = True
                    return
                try:
                    time.sleep(receiver.delay)
                    self.send_response(receiver.status)
                    for name, value in receiver.headers.items():
                        self.send_header(name, value)
                    body = b"x" * 20 if receiver.dribble else b""
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    for byte in range(len(body)):
                        self.wfile.write(body[byte : byte + 1])
                        self.wfile.flush()
                        time.sleep(receiver.dribble / len(body))
                finally:
                    with receiver._lock:
                        receiver._in_flight -= 1
                        receiver.answered.append(webhook_id)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


def free_port() -> int:
    """A loopback port nothing listens on right now (another process may take it meanwhile,
    which the servers below notice when they fail to start)."""
    return closed_port()


def _wait_until(condition, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} after {timeout} s")


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


class RedisServer:
    """`redis-server` on 127.0.0.1:`port`, no persistence: `kill()` loses its data, as a
    crashed or restarted Redis without persistence does; `start()` brings it back on the same
    port. Skips the test when redis-server is not installed."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = shutil.which("redis-server")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> "RedisServer":
        if self.binary is None:
            import pytest

            pytest.skip("redis-server is not installed")
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        self._process = subprocess.Popen(  # noqa: S603
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_until(lambda: _accepts(self.port), timeout=10, what="redis-server did not start")
        return self

    def kill(self) -> None:
        """SIGKILL: clients' connections break mid-use, new ones are refused."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
            self._process = None
        _wait_until(lambda: not _accepts(self.port), timeout=5, what="redis-server still answers")

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        if self.running:
            self.kill()


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, or Debian's /usr/lib/postgresql/<version>/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


class PostgresCluster:
    """A PostgreSQL cluster of its own: `initdb` in a temporary directory, served by `pg_ctl` on
    127.0.0.1:`port` (trust authentication, user `postgres`, no fsync). `stop()` is an immediate
    shutdown, what a crash or a failover looks like to the clients: connections break mid-use
    and new ones are refused until `start()`.

    Run as root, the server runs as the `postgres` OS user (PostgreSQL refuses root).
    """

    def __init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        self.port = free_port()
        self.user = "postgres"
        self._tmp: str | None = None
        self._run_as: list[str] = []

    @property
    def data_dir(self) -> str:
        return os.path.join(self._tmp, "data")

    def settings_dict(self, name: str = "postgres") -> dict:
        """Django's DATABASES entry for a database of this cluster."""
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": self.user,
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            # Fail fast while the cluster is down, instead of waiting for the OS's timeout.
            "OPTIONS": {"connect_timeout": 2},
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            "ATOMIC_REQUESTS": False,
            "AUTOCOMMIT": True,
            "TIME_ZONE": None,
            "TEST": {},
        }

    def _run(self, *argv: str, timeout: float = 60) -> None:
        subprocess.run(  # noqa: S603
            [*self._run_as, *argv],
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd=self._tmp,
        )

    def init(self) -> "PostgresCluster":
        if self.bin_dir is None:
            import pytest

            pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
        self._tmp = tempfile.mkdtemp(prefix="campaign-sso-pg-")
        if os.geteuid() == 0:
            import pwd

            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                import pytest

                pytest.skip("running as root without a postgres OS user to run PostgreSQL")
            os.chown(self._tmp, owner.pw_uid, owner.pw_gid)
            self._run_as = ["runuser", "-u", "postgres", "--"]
        self._run(
            str(self.bin_dir / "initdb"),
            "--pgdata",
            self.data_dir,
            "--username",
            self.user,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-sync",
        )
        return self

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories='' "
            # fsync off: a crash of the server process (what `stop` does) loses nothing the OS
            # has, and the tests run faster. synchronous_commit stays on: a commit the client
            # saw must survive the crash, as in production.
            "-c fsync=off"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "start",
            "--pgdata",
            self.data_dir,
            "--wait",
            "--timeout",
            "30",
            "--silent",
            "--log",
            os.path.join(self._tmp, "server.log"),
            "-o",
            options,
        )
        _wait_until(lambda: _accepts(self.port), timeout=10, what="PostgreSQL did not start")

    def stop(self, mode: str = "immediate") -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "stop",
            "--pgdata",
            self.data_dir,
            "--mode",
            mode,
            "--wait",
            "--silent",
        )
        _wait_until(lambda: not _accepts(self.port), timeout=10, what="PostgreSQL still answers")

    @property
    def running(self) -> bool:
        return self._tmp is not None and _accepts(self.port)

    def remove(self) -> None:
        if self._tmp is None:
            return
        if self.running:
            with contextlib.suppress(Exception):
                self.stop()
        pid_file = os.path.join(self.data_dir, "postmaster.pid")
        if os.path.exists(pid_file):  # a server that would not stop: end it
            with contextlib.suppress(Exception), open(pid_file) as lines:
                os.kill(int(lines.readline()), signal.SIGKILL)
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp = None
