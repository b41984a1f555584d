import contextlib
import datetime
import http.client
import io
import json
import multiprocessing
import os
import runpy
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from bench.stack import Gunicorn, free_port, wait_for
from config.access_log import AccessLogger

CONF = Path(__file__).resolve().parents[2] / "config" / "gunicorn.conf.py"


def _load(environment: dict[str, str]) -> dict:
    with pytest.MonkeyPatch.context() as patch:
        for name in ("PORT", "HOST", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT"):
            patch.delenv(name, raising=False)
        for name, value in environment.items():
            patch.setenv(name, value)
        return runpy.run_path(str(CONF))


def test_defaults_are_sized_for_logins_that_wait_on_the_idp():
    conf = _load({})
    assert conf["worker_class"] == "config.gunicorn_worker.ClosingThreadWorker"
    assert conf["workers"] == max(2, multiprocessing.cpu_count())
    assert conf["threads"] == 8
    assert conf["bind"] == ["0.0.0.0:8000"]
    assert conf["timeout"] == 30
    assert conf["graceful_timeout"] == 30
    # Recycled, but not under a busy minute's load: 2,000 restarted a worker every 27 s.
    assert conf["max_requests"] >= 20000
    assert 0 < conf["max_requests_jitter"] < conf["max_requests"]
    assert conf["accesslog"] == "-"
    assert conf["logger_class"] == "config.access_log.AccessLogger"


def test_the_environment_sizes_and_binds_it():
    conf = _load(
        {"PORT": "9001", "HOST": "127.0.0.1", "WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "16"}
    )
    assert conf["bind"] == ["127.0.0.1:9001"]
    assert conf["workers"] == 3
    assert conf["threads"] == 16


def test_every_setting_is_one_gunicorn_knows():
    known = set(Config().settings)
    conf = _load({})
    ours = {name for name in conf if not name.startswith("_") and name.islower()}
    ours -= {"env", "environ", "multiprocessing", "os"}
    assert ours <= known, ours - known


@pytest.fixture
def gunicorn_logger(monkeypatch):
    """gunicorn's logger as gunicorn.conf.py sets it up, writing into buffers."""
    monkeypatch.setenv("LOG_FORMAT", "json")
    config = Config()
    config.set("accesslog", "-")
    config.set("errorlog", "-")
    logger = AccessLogger(config)
    streams = {"access": io.StringIO(), "error": io.StringIO()}
    for name, log in (("access", logger.access_log), ("error", logger.error_log)):
        [handler] = [h for h in log.handlers if getattr(h, "_gunicorn", False)]
        handler.setStream(streams[name])
    yield logger, streams
    for log in (logger.access_log, logger.error_log):
        for handler in [h for h in log.handlers if getattr(h, "_gunicorn", False)]:
            log.removeHandler(handler)


def test_access_log_is_one_json_object_without_the_query_string(gunicorn_logger):
    logger, streams = gunicorn_logger
    response = SimpleNamespace(
        status="302 Found", headers=[("X-Request-ID", "req-12345678")], sent=0
    )
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/oauth/callback",
        "QUERY_STRING": "code=the-authorization-code&state=s",
        "RAW_URI": "/oauth/callback?code=the-authorization-code&state=s",
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_USER_AGENT": "Mozilla/5.0",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    logger.access(response, SimpleNamespace(headers=[]), environ, datetime.timedelta(0, 0, 42500))
    line = streams["access"].getvalue().strip()
    assert "the-authorization-code" not in line
    entry = json.loads(line)
    assert entry["logger"] == "gunicorn.access"
    assert entry["level"] == "INFO"
    assert entry["method"] == "GET"
    assert entry["path"] == "/oauth/callback"
    assert entry["status"] == 302
    assert entry["duration_ms"] == 42.5
    assert entry["request_id"] == "req-12345678"
    assert entry["message"] == "GET /oauth/callback 302 42.5ms"


def test_gunicorn_error_log_is_json_and_redacts_secrets(gunicorn_logger):
    logger, streams = gunicorn_logger
    logger.error("Worker failed with client_secret=abc")
    entry = json.loads(streams["error"].getvalue())
    assert entry["message"] == "Worker failed with client_secret=[redacted]"


def test_the_wsgi_application_loads_its_views_and_freezes_start_up():
    # What start-up built is out of the garbage collector's reach (config/wsgi.py); the views
    # are among it, imported with the application rather than by the first request.
    code = (
        "import gc, sys, config.wsgi; "
        "print(gc.get_freeze_count() > 0, 'participants.views' in sys.modules)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "1", "PATH": "/usr/bin"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=CONF.parents[1],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.split() == ["True", "True"]


def test_keep_alive_is_off_by_default_and_on_when_asked():
    assert _load({})["keepalive"] == 0
    assert _load({"GUNICORN_KEEPALIVE": "75"})["keepalive"] == 75


@contextlib.contextmanager
def _serving_pids(processes: int, **environment: str):
    """gunicorn with config/gunicorn.conf.py serving tests/ops/pid_wsgi.py; yields its port."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin"),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": str(processes),
        "LOG_LEVEL": "warning",
        **environment,
    }
    server = Gunicorn(env, log=subprocess.DEVNULL, app="tests.ops.pid_wsgi:application")
    try:
        wait_for(server.base + "/")
        for _ in range(100):  # every process forked, not only the one that answered
            if len(server.workers()) == processes:
                break
            time.sleep(0.05)
        yield server.port
    finally:
        server.stop()


@pytest.fixture
def served_pids():
    with _serving_pids(2) as port:
        yield port


@pytest.fixture
def one_process():
    with _serving_pids(1) as port:
        yield port


def test_every_response_closes_its_connection_so_requests_spread_over_the_processes(
    served_pids,
):
    # A client (or a proxy's upstream pool, deploy/nginx/) that tries to keep its connections:
    # each answer tells it to close, so its next request is accepted afresh, by whichever
    # process takes it. With keep-alive, a gthread process keeps every connection it accepted:
    # in the peer bench all 8 of the driver's went to one process of two.
    answered_by = set()
    for _ in range(8):
        connections = [http.client.HTTPConnection("127.0.0.1", served_pids) for _ in range(4)]
        for connection in connections:
            connection.request("GET", "/", headers={"Connection": "keep-alive"})
            response = connection.getresponse()
            answered_by.add(response.read().decode())
            assert response.status == 200
            assert response.getheader("Connection") == "close"
            assert response.will_close
        for connection in connections:
            connection.close()
    assert len(answered_by) == 2


def test_a_client_that_keeps_its_socket_open_holds_up_no_one_else(one_process):
    # Since gunicorn 26 a connection is closed by lingering: half-close, then read until the
    # client closes too, for up to 2 s. The gthread worker lingers in the loop that accepts
    # and finishes every request of its process; config/gunicorn_worker.py lingers on the
    # request thread instead. This client reads its whole answer, sees the server close, and
    # keeps its own side open: the next participant's request must not wait for it.
    holder = socket.create_connection(("127.0.0.1", one_process), timeout=10)
    try:
        holder.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while chunk := holder.recv(4096):  # until the server's half-close
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        other = http.client.HTTPConnection("127.0.0.1", one_process, timeout=10)
        other.request("GET", "/")
        assert other.getresponse().status == 200
        waited = time.monotonic() - started
        other.close()
    finally:
        holder.close()
    # Milliseconds; waiting for the holder would take the linger's 2 s.
    assert waited < 1.0


def test_a_process_keeps_to_its_connection_limit_however_many_it_has_closed():
    # The worker lingers over a closed connection on the request thread and leaves the close to
    # gunicorn's main loop, which counts it: counted twice, the process would believe it holds
    # fewer connections than it does and accept past gunicorn's worker_connections.
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with _serving_pids(1, GUNICORN_CMD_ARGS="--worker-connections 1") as port:
        for _ in range(5):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/")
            assert connection.getresponse().read()
            connection.close()
        holder = socket.create_connection(("127.0.0.1", port), timeout=10)  # the one allowed
        waiting = socket.create_connection(("127.0.0.1", port), timeout=10)
        try:
            waiting.sendall(request)
            answered_early, _, _ = select.select([waiting], [], [], 0.5)
            holder.sendall(request)
            assert holder.recv(4096).startswith(b"HTTP/1.1 200")
            holder.close()
            assert waiting.recv(4096).startswith(b"HTTP/1.1 200")  # its turn now
        finally:
            holder.close()
            waiting.close()
    assert not answered_early
