"""The egress options webhooks rely on: a capped answer kept, and a deadline for the whole call."""

import socket
import threading
import time

import pytest
import responses

from integrations.egress.policy import EgressError, Purpose
from integrations.egress.transport import send


@responses.activate
def test_truncate_keeps_the_first_bytes_of_a_large_answer():
    responses.post("https://hooks.example.com/h", body=b"x" * 5_000_000, status=200)

    answer = send(
        "POST",
        "https://hooks.example.com/h",
        purpose=Purpose.WEBHOOK,
        timeout=(5, 15),
        max_bytes=2048,
        truncate=True,
    )

    assert answer.status_code == 200
    assert answer.content == b"x" * 2048


@pytest.fixture
def dripping_server():
    """Answers its headers, then one byte every 0.2 s for ever: each read is quick, the whole
    answer never ends."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
        try:
            while not stop.is_set():
                conn.sendall(b"x")
                time.sleep(0.2)
        except OSError:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    stop.set()
    listener.close()


def test_total_timeout_cuts_a_receiver_that_drips_its_answer(settings, dripping_server):
    settings.ALLOW_PRIVATE_WEBHOOK_ADDRESSES = True
    started = time.monotonic()

    with pytest.raises(EgressError) as excinfo:
        send(
            "POST",
            dripping_server,
            purpose=Purpose.WEBHOOK,
            timeout=(5, 15),
            total_timeout=1.0,
            max_bytes=1_000_000,
            data=b"{}",
        )

    assert excinfo.value.reason == "total_timeout"
    assert time.monotonic() - started < 5
