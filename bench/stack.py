"""The bench stack: what the benchmarks start on 127.0.0.1, measure and stop.

- ports and waits: `free_port()`, `wait_for(url)`;
- /proc: `cpu_seconds(pid)` (utime + stime, with the children), `rss_kib(pid)` (VmRSS),
  `children(pid)`;
- the app's environment: `production_env()` (DJANGO_DEBUG=0, fresh keys, plain http on
  loopback), `release()` (migrate + collectstatic, a deploy's release step);
- servers: `Gunicorn` (config/gunicorn.conf.py, its own process group), `idp_stub()`
  (bench/idp_server.py), `own_redis()` (a redis-server of its own on a free port),
  `throwaway_database()` (a PostgreSQL database created for the run and dropped after it),
  `Receiver` (a webhook receiver that checks every signature and counts per `webhook-id`);
- the data: `customer_seed()` (an account with an IdP, a live campaign and optionally a webhook
  endpoint);
- the report: `percentile()`, `machine()`.

The scripts run as `python bench/<name>.py`: this directory is on sys.path, the checkout too.
"""

import contextlib
import hmac
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Every virtual participant comes from 127.0.0.1: the per-address limits would stop a benchmark
# after 60 logins. The limiter still counts every hit (its cost stays in).
NO_RATE_LIMITS = {
    "RATE_LIMIT_LOGIN_PER_IP": "1000000/m",
    "RATE_LIMIT_LOGIN_PER_CAMPAIGN": "1000000/m",
}


# ---------------------------------------------------------------------------- ports and waits
def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def wait_for(url: str, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {timeout} s")


# ---------------------------------------------------------------------------- /proc
def _stat(pid: int) -> list[str]:
    # The command name may hold spaces: the fields start after the last ")".
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    """The live children of `pid` (for gunicorn's master: its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
    return sorted(found)


def cpu_seconds(pid: int, *, with_children: bool) -> float:
    """utime + stime of `pid`, plus its live children and (reaped) dead children."""
    try:
        fields = _stat(pid)
    except FileNotFoundError:
        return 0.0
    # Fields after the name: state=0 ppid=1 … utime=11 stime=12 cutime=13 cstime=14.
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])  # workers gunicorn recycled and reaped
        for child in children(pid):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, IndexError):
                child_fields = _stat(child)
                ticks += int(child_fields[11]) + int(child_fields[12])
    return ticks / CLK_TCK


def rss_kib(pid: int) -> int:
    """The resident set of `pid` in KiB (VmRSS of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for process {pid}")


# ---------------------------------------------------------------------------- the app's environment
def production_env(
    *, database_url: str, cache_url: str, settings_module: str = "config.settings", **extra: str
) -> dict[str, str]:
    """The app's environment under gunicorn: production settings (DJANGO_DEBUG=0, fresh keys),
    plain http on loopback, `config/gunicorn.conf.py`'s sizing unless `extra` says otherwise."""
    from cryptography.fernet import Fernet

    return {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "HOST": "127.0.0.1",
        # A recycled worker's CPU is still counted (the master's cutime), but its warm-up is not
        # what we measure.
        "GUNICORN_MAX_REQUESTS": "0",
        # glibc's allocator settings, as a deployment's unit file would set them.
        **{k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        **extra,
    }


def release(child_env: dict[str, str], *, root: Path = ROOT) -> None:
    """What a deploy's release step does: migrate, and collect the static files (WhiteNoise's
    manifest storage needs them)."""
    for command in (["migrate"], ["collectstatic"]):
        subprocess.run(
            [PYTHON, "manage.py", *command, "--noinput", "-v0"],
            cwd=root,
            env=child_env,
            check=True,
        )


def django_setup(env: dict) -> None:
    """Django in this process, on the app's environment (to seed and to check the database)."""
    os.environ.update(env)
    import django

    django.setup()


# ---------------------------------------------------------------------------- processes
def stop(process: subprocess.Popen, *, group: bool = False, timeout: float = 30) -> None:
    """SIGTERM (to its process group with `group`), SIGKILL if it is still there after
    `timeout` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
        process.wait(10)


class Gunicorn:
    """The app (`app`, a WSGI module) under gunicorn with `config/gunicorn.conf.py` (HOST and
    PORT from `env`, more of gunicorn's options in `args`), in a process group of its own."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        log,
        root: Path = ROOT,
        app: str = "config.wsgi",
        args: tuple[str, ...] = (),
    ) -> None:
        self.port = int(env["PORT"])
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", *args, app],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def workers(self) -> list[int]:
        return children(self.pid)

    def wait_ready(self, *, timeout: float = 60) -> None:
        wait_for(f"{self.base}/healthz", timeout=timeout)

    def stop(self, *, timeout: float = 60) -> None:
        stop(self.process, group=True, timeout=timeout)


def idp_stub(
    port: int, *, client_id: str, client_secret: str, redirect_uri: str, log
) -> subprocess.Popen:
    """bench/idp_server.py on 127.0.0.1:`port`, its own process (its CPU apart from the app's)."""
    return subprocess.Popen(
        [
            PYTHON,
            str(BENCH / "idp_server.py"),
            "--port",
            str(port),
            "--client-id",
            client_id,
            f"--client-secret={client_secret}",  # it may start with "-"
            "--redirect-uri",
            redirect_uri,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@contextlib.contextmanager
def own_redis():
    """A redis-server of its own on a free loopback port, no persistence; yields its base URL
    (`redis://127.0.0.1:<port>`, add the database number), or None when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not accepts(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("redis-server did not start")
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop(server, timeout=10)


def bench_cache_url() -> str:
    """CACHE_URL; else Redis DB 9 when Redis runs (production shares rate limits and JWKS
    through it); else local memory."""
    cache_url = os.environ.get("CACHE_URL", "")
    if not cache_url and accepts(6379):
        cache_url = "redis://127.0.0.1:6379/9"
    return cache_url or "locmemcache://bench"


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres", "pgsql"))


@contextlib.contextmanager
def throwaway_database(url: str, *, name: str | None = None):
    """On PostgreSQL, a fresh database on the server `url` names (created, then dropped), named
    `name` or after the one in `url`: the benchmark never touches that database's data.
    SQLite: `url` as it is."""
    if not is_postgres(url):
        yield url
        return
    import psycopg

    parts = urlsplit(url)
    name = name or f"{parts.path.lstrip('/') or 'campaign_sso'}_bench_{os.getpid()}"
    if name in ("postgres", "test", "test_test", "template0", "template1"):
        raise SystemExit(f"refusing to create and drop the database {name!r}")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        if "django" in sys.modules:
            from django.conf import settings
            from django.db import connections

            if settings.configured:  # this process used it too (a seed, a check)
                connections.close_all()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------- webhook receiver
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


class Receiver:
    """A webhook receiver that checks each signature (any of `secrets_`) and counts per
    `webhook-id`. `hold(n)`: the next n requests are read and never answered until `release()`
    (then the connection closes). `status`: what it answers (503 = the receiver is down).
    `sender`: called with the connection's client port while the request is open, returns a name
    for the process that sent it (see `ProcessFinder`); `senders` counts acknowledged
    deliveries by that name."""

    def __init__(self, secrets_: list[str], *, sender=None) -> None:
        self.secrets = secrets_
        self.status = 204
        self.sender = sender
        self.lock = threading.Lock()
        self.received: Counter = Counter()
        self.acknowledged: Counter = Counter()  # 2xx answers per id
        self.first_acknowledged: dict[str, float] = {}
        self.senders: Counter = Counter()
        self.bad_signatures = 0
        self.refused: set[str] = set()  # answered with the receiver's error status
        self._hold = 0
        self.held: list[str] = []
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                # `/stats` (the counts as JSON) and `/reset`: for a receiver in a process of
                # its own (bench/webhook_bench.py), so that its CPU time is measured apart.
                if self.path == "/reset":
                    receiver.reset()
                body = json.dumps(receiver.stats()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                webhook_id = self.headers.get("webhook-id", "")
                valid = receiver.verify(
                    webhook_id,
                    self.headers.get("webhook-timestamp", ""),
                    self.headers.get("webhook-signature", ""),
                    body,
                )
                sender = receiver.sender(self.client_address[1]) if receiver.sender else ""
                with receiver.lock:
                    receiver.received[webhook_id] += 1
                    held = valid and receiver._hold > 0
                    if held:
                        receiver._hold -= 1
                        receiver.held.append(webhook_id)
                    status = receiver.status if valid else 400
                    if not valid:
                        receiver.bad_signatures += 1
                    elif not held and not 200 <= status < 300:
                        receiver.refused.add(webhook_id)
                if held:
                    receiver._released.wait(300)
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if 200 <= status < 300:
                    with receiver.lock:
                        receiver.acknowledged[webhook_id] += 1
                        receiver.first_acknowledged.setdefault(webhook_id, time.monotonic())
                        receiver.senders[sender] += 1

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def verify(self, webhook_id: str, timestamp: str, header: str, body: bytes) -> bool:
        # The package imports models: only once Django is set up (by the seed).
        from integrations.webhooks.signing import signature

        if not timestamp.isdigit():
            return False
        expected = [
            signature(secret=s, message_id=webhook_id, timestamp=int(timestamp), body=body)
            for s in self.secrets
        ]
        return any(
            hmac.compare_digest(sent, wanted) for sent in header.split() for wanted in expected
        )

    def stats(self) -> dict:
        with self.lock:
            return {
                "received": sum(self.received.values()),
                "distinct": len(self.received),
                "acknowledged": sum(self.acknowledged.values()),
                "twice": sum(1 for n in self.acknowledged.values() if n > 1),
                "bad_signatures": self.bad_signatures,
                # time.monotonic() of the last id's first acknowledgement: the system's clock,
                # comparable with the bench process's own.
                "last_acknowledged": max(self.first_acknowledged.values(), default=None),
            }

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.acknowledged.clear()
            self.first_acknowledged.clear()
            self.senders.clear()
            self.bad_signatures = 0
            self.refused.clear()

    def hold(self, count: int) -> None:
        with self.lock:
            self._hold = count
            self._released.clear()

    def release(self) -> None:
        with self.lock:
            self._hold = 0
        self._released.set()

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()


class ProcessFinder:
    """Which of our processes holds the loopback TCP connection from a client port to `port`.

    `roots` maps a name to a process we started: the connection belongs to that process or to
    one of its children (RQ's work horse, forked per job). Read from /proc/net/tcp (the socket's
    inode) and /proc/<pid>/fd; "?" when no root holds it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.roots: dict[int, str] = {}

    def _inode(self, client_port: int) -> str | None:
        local, remote = f"0100007F:{client_port:04X}", f"0100007F:{self.port:04X}"
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == local and fields[2] == remote:
                return fields[9]
        return None

    def __call__(self, client_port: int) -> str:
        inode = self._inode(client_port)
        if inode is None:
            return "?"
        wanted = f"socket:[{inode}]"
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            with contextlib.suppress(OSError, IndexError, ValueError):
                name = self.roots.get(pid) or self.roots.get(int(_stat(pid)[1]))
                if name is None:
                    continue
                for fd in (entry / "fd").iterdir():
                    with contextlib.suppress(OSError):
                        if os.readlink(fd) == wanted:
                            return name
        return "?"


# ---------------------------------------------------------------------------- the data
def customer_seed(
    slug: str,
    *,
    idp_base: str,
    client_id: str,
    client_secret: str,
    callback_key: str,
    read_timeout: int,
    token_endpoint: str = "",
    webhook_url: str = "",
) -> str:
    """One customer: an account with the SSO entitlement, an integration at `idp_base` (its
    token endpoint `token_endpoint` when given), a mapping of first and last name and e-mail,
    a live campaign `slug` asking for them, and with `webhook_url` an endpoint for
    participation.created. Returns the endpoint's signing secret ("" without one)."""
    from accounts.models import Account
    from campaigns.models import Campaign, CampaignField, CampaignStatus, FieldType
    from integrations.models import MappingRule, OAuthIntegration

    account = Account.objects.create(name=slug, slug=slug, sso_oauth_enabled=True)
    integration = OAuthIntegration.objects.create(
        account=account,
        display_name=f"{slug} IdP",
        client_id=client_id,
        client_secret=client_secret,
        authorization_endpoint=f"{idp_base}/authorize",
        token_endpoint=token_endpoint or f"{idp_base}/token",
        profile_endpoint=f"{idp_base}/userinfo",
        jwks_uri=f"{idp_base}/jwks",
        issuer=idp_base,
        scope="openid email profile",
        use_pkce=True,
        connect_timeout=5,
        read_timeout=read_timeout,
        callback_key=callback_key,
    )
    for position, (target, source) in enumerate(
        [("firstname", "given_name"), ("lastname", "family_name"), ("email", "email")]
    ):
        MappingRule.objects.create(
            integration=integration, target=target, source=source, position=position
        )
    campaign = Campaign.objects.create(
        account=account,
        title=slug,
        title_fr=slug,
        slug=slug,
        status=CampaignStatus.LIVE,
        languages=["en"],
        oauth_integration=integration,
    )
    for position, (variable, field_type) in enumerate(
        [("firstname", FieldType.TEXT), ("lastname", FieldType.TEXT), ("email", FieldType.EMAIL)]
    ):
        CampaignField.objects.create(
            campaign=campaign,
            variable=variable,
            field_type=field_type,
            label_en=variable,
            label_fr=variable,
            required=True,
            position=position,
        )
    if not webhook_url:
        return ""
    return webhook_endpoint_create(account, url=webhook_url)


def webhook_endpoint_create(account, *, url: str) -> str:
    """A participation.created endpoint of `account` at `url`; returns its signing secret."""
    from integrations.models import WebhookEndpoint
    from integrations.webhooks.signing import secret_generate

    secret = secret_generate()
    WebhookEndpoint.objects.create(
        account=account, url=url, events=["participation.created"], secret=secret
    )
    return secret


# ---------------------------------------------------------------------------- the report
def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def machine() -> dict[str, str]:
    import django

    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "cpus": str(os.cpu_count()),
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "load": load,
    }
