"""The demo supervisor, driven with tiny dummy processes instead of the real servers."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from demo.supervisor import Service, Supervisor

REPO_ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable

# Writes its pid to argv[1], says hello, sleeps.
SLEEPER = (
    "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); "
    "print('sleeper up', flush=True); time.sleep(120)"
)
# Waits (10 s at most) for the pid file at argv[1], says "boom", exits with 3: still during
# start-up, since the supervisor waits longer than that for its services to be ready.
CRASHER = (
    "import os, sys, time; deadline = time.time() + 10\n"
    "while not os.path.exists(sys.argv[1]) and time.time() < deadline: time.sleep(0.05)\n"
    "print('boom', flush=True); sys.exit(3)"
)
# Starts a child of its own (as runserver's autoreloader does), writes both pids, sleeps.
SPAWNER = (
    "import os, subprocess, sys, time; "
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
    "open(sys.argv[1], 'w').write(f'{os.getpid()} {child.pid}'); time.sleep(120)"
)
# Listens on the port in argv[1]: ready once the port accepts connections.
LISTENER = (
    "import socket, sys, time; s = socket.socket(); "
    "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); "
    "print('listening', flush=True); time.sleep(120)"
)

# Runs a Supervisor in its own process, so that it can receive real signals.
DRIVER = """
import json, sys
from demo.supervisor import Service, Supervisor
specs = json.loads(sys.argv[1])
supervisor = Supervisor([Service(**spec) for spec in specs], settle_seconds=0.5, stop_timeout=5)
sys.exit(supervisor.run(on_ready=lambda: supervisor.say("ALL READY")))
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"  # a zombie is dead, only not yet reaped


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _pids(path: Path) -> list[int]:
    assert _wait_for(lambda: path.exists() and path.read_text().strip()), f"{path} not written"
    return [int(pid) for pid in path.read_text().split()]


def _supervisor(services, **kwargs):
    out = io.StringIO()
    options = {"settle_seconds": 0.3, "stop_timeout": 5, "startup_timeout": 10, **kwargs}
    return Supervisor(services, out=out, **options), out


@pytest.fixture
def driver(tmp_path):
    processes = []

    def start(specs):
        process = subprocess.Popen(
            [PY, "-c", DRIVER, json.dumps(specs)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def _read_until(process, marker: str, timeout=20.0) -> str:
    """Read the driver's output until `marker` (bounded: the driver is killed otherwise)."""
    seen = []
    deadline = time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line:
            seen.append(line)
            if marker in line:
                return "".join(seen)
        elif process.poll() is not None:
            break
        else:
            time.sleep(0.05)
    raise AssertionError(f"{marker!r} not seen; output so far:\n{''.join(seen)}")


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_every_process_group_and_exits_cleanly(driver, tmp_path, signum):
    port = _free_port()
    process = driver(
        [
            {"name": "sleeper", "argv": [PY, "-c", SLEEPER, str(tmp_path / "sleeper.pid")]},
            {"name": "spawner", "argv": [PY, "-c", SPAWNER, str(tmp_path / "spawner.pid")]},
            {"name": "listener", "argv": [PY, "-c", LISTENER, str(port)], "port": port},
        ]
    )
    output = _read_until(process, "ALL READY")
    pids = _pids(tmp_path / "sleeper.pid") + _pids(tmp_path / "spawner.pid")
    assert all(_alive(pid) for pid in pids)

    process.send_signal(signum)

    assert process.wait(timeout=15) == 0
    output += process.stdout.read() or ""
    assert "sleeper  | sleeper up" in output
    assert "listener | listening" in output
    assert "Everything is stopped." in output
    # Including the spawner's child, which only the process group reaches.
    assert _wait_for(lambda: not any(_alive(pid) for pid in pids), timeout=5)


def test_a_process_dying_at_start_stops_the_others_and_is_named(tmp_path):
    supervisor, out = _supervisor(
        [
            Service("sleeper", [PY, "-c", SLEEPER, str(tmp_path / "sleeper.pid")]),
            # It dies once the sleeper is up, so that a loaded machine cannot let it die before
            # the sleeper ran a line (the sleeper would then be stopped before writing its pid).
            Service("crasher", [PY, "-c", CRASHER, str(tmp_path / "sleeper.pid")]),
        ]
    )

    assert supervisor.run(on_ready=lambda: supervisor.say("ALL READY")) == 1

    text = out.getvalue()
    assert "crasher | boom" in text
    assert "crasher: exited with code 3 during start-up" in text
    assert "ALL READY" not in text
    [sleeper] = _pids(tmp_path / "sleeper.pid")
    assert _wait_for(lambda: not _alive(sleeper), timeout=5)


def test_a_process_dying_later_stops_the_others(tmp_path):
    supervisor, out = _supervisor(
        [
            Service("sleeper", [PY, "-c", SLEEPER, str(tmp_path / "sleeper.pid")]),
            Service("fragile", [PY, "-c", "import sys, time; time.sleep(1.5); sys.exit(4)"]),
        ]
    )

    started = time.monotonic()
    assert supervisor.run(on_ready=lambda: supervisor.say("ALL READY")) == 1

    assert time.monotonic() - started < 10
    text = out.getvalue()
    assert "ALL READY" in text
    assert "fragile: exited with code 4" in text
    assert "fragile failed; everything is stopped." in text
    assert not _alive(_pids(tmp_path / "sleeper.pid")[0])


def test_a_failing_preparation_step_starts_nothing(tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    supervisor, out = _supervisor(
        [
            Service(
                "idp",
                [PY, "-c", SLEEPER, str(pid_file)],
                before=[[PY, "-c", "import sys; print('no such table'); sys.exit(2)"]],
            )
        ]
    )

    assert supervisor.run() == 1

    assert "idp | no such table" in out.getvalue()
    assert "failed with exit code 2" in out.getvalue()
    assert not pid_file.exists()


def test_a_port_already_in_use_is_reported_before_starting(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        supervisor, out = _supervisor([Service("web", [PY, "-c", LISTENER, str(port)], port=port)])

        assert supervisor.run() == 1

    assert f"web: port {port} is already in use" in out.getvalue()


def test_a_service_never_ready_times_out(tmp_path):
    port = _free_port()
    supervisor, out = _supervisor(
        [Service("mute", [PY, "-c", SLEEPER, str(tmp_path / "mute.pid")], port=port)],
        startup_timeout=1,
    )

    assert supervisor.run() == 1

    assert "mute: not ready after 1s" in out.getvalue()
    assert not _alive(_pids(tmp_path / "mute.pid")[0])
