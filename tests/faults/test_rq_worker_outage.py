"""The RQ worker outlives a Redis outage (`manage.py rqworker_resilient`, as deploy/ runs it).

A Redis of the test's own on a free loopback port is killed while the worker runs a job, then
started again on the same port (empty, as a Redis without persistence comes back): the same
worker process runs the next task within seconds, and stops cleanly on SIGTERM. Plain
`rqworker` ends in that situation (and exits 0), which is why deploy/ runs the wrapper.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django_tasks import TaskResultStatus

from tests.faults.servers import RedisServer
from tests.ops.tasks import add_numbers, sleep_then_add

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture
def rq_settings(settings, redis_server):
    settings.RQ_QUEUES = {
        "default": {"URL": redis_server.url},
        "webhooks": {"URL": redis_server.url},
    }
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", "webhooks"]}
    }
    return redis_server


def start_worker(redis_url: str, command: str = "rqworker_resilient") -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            command,
            "--job-class",
            "django_tasks_rq.Job",
            "--with-scheduler",
            "default",
            "webhooks",
        ],
        cwd=BASE_DIR,
        env={**os.environ, "TASKS_BACKEND": "rq", "REDIS_URL": redis_url, "DJANGO_DEBUG": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(result, status, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result.refresh()
        except Exception:  # Redis not back yet
            pass
        else:
            if result.status == status:
                return
        time.sleep(0.1)
    raise AssertionError(f"task still {result.status} after {timeout} s, not {status}")


def stop(worker: subprocess.Popen) -> str:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        output, _ = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        worker.kill()
        output, _ = worker.communicate()
    return output


def test_the_worker_resumes_after_redis_was_killed_mid_job(rq_settings):
    redis_server = rq_settings
    worker = start_worker(redis_server.url)
    try:
        first = add_numbers.enqueue(1, 1)
        wait_for(first, TaskResultStatus.SUCCESSFUL, timeout=30)

        slow = sleep_then_add.enqueue(1.5, 2, 2)
        wait_for(slow, TaskResultStatus.RUNNING, timeout=15)
        redis_server.kill()
        time.sleep(3)  # the job ends meanwhile, and with it the worker's use of Redis
        assert worker.poll() is None, "the worker exited during the outage"

        redis_server.start()
        resumed_at = time.monotonic()
        after = add_numbers.enqueue(2, 3)
        wait_for(after, TaskResultStatus.SUCCESSFUL, timeout=45)
        assert after.return_value == 5
        assert time.monotonic() - resumed_at < 45
        assert worker.poll() is None
    finally:
        output = stop(worker)
    assert worker.returncode == 0, output
    assert "Redis" in output


def test_the_worker_waits_for_a_redis_that_is_down_when_it_starts(rq_settings):
    redis_server = rq_settings
    redis_server.kill()
    worker = start_worker(redis_server.url)
    try:
        time.sleep(2)
        assert worker.poll() is None, "the worker gave up while Redis was down"
        redis_server.start()
        result = add_numbers.enqueue(4, 5)
        wait_for(result, TaskResultStatus.SUCCESSFUL, timeout=45)
    finally:
        output = stop(worker)
    assert worker.returncode == 0, output


def _read_until(worker: subprocess.Popen, text: str, *, timeout: float) -> str:
    """The worker's output up to the first line holding `text` (a loaded machine may take
    seconds to start Django: a fixed sleep could signal it before it handles signals)."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in worker.stdout:
            lines.append(line)
            if text in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(timeout), "".join(lines)
    return "".join(lines)


def test_a_signal_while_waiting_for_redis_stops_the_worker(rq_settings):
    redis_server = rq_settings
    redis_server.kill()
    worker = start_worker(redis_server.url)
    _read_until(worker, "waiting for Redis", timeout=60)
    time.sleep(0.5)  # the line is logged just before the wait installs its signal handler
    started = time.monotonic()
    output = stop(worker)
    assert worker.returncode == 0, output
    assert time.monotonic() - started < 5


def test_the_worker_stops_promptly_when_asked(rq_settings):
    # RQ's own worker sometimes took 60 s to stop (its command listener's sleep).
    worker = start_worker(rq_settings.url)
    try:
        result = add_numbers.enqueue(1, 2)
        wait_for(result, TaskResultStatus.SUCCESSFUL, timeout=30)
    finally:
        started = time.monotonic()
        output = stop(worker)
    assert worker.returncode == 0, output
    assert time.monotonic() - started < 10
