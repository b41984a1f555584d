"""The customer's page `make run` serves: the demo campaign embedded with the admin's code."""

import socket
import subprocess
import sys
import time

import requests

from demo.embed_host import demo_pages, host_running
from demo.services import BASE_DIR

CAMPAIGN_URL = "http://127.0.0.1:8100/e/summer-contest/"


def test_the_page_pastes_the_code_the_campaign_admin_gives():
    from campaigns.embed_code import embed_code

    with host_running(demo_pages(CAMPAIGN_URL)) as host:
        assert host.url.startswith("http://localhost:")  # another site than 127.0.0.1
        page = requests.get(f"{host.url}/", timeout=5)
        missing = requests.get(f"{host.url}/elsewhere", timeout=5)

    assert page.status_code == 200
    code = embed_code(src=CAMPAIGN_URL, title="Summer contest", frame_id="campaign-summer-contest")
    assert code in page.text
    assert missing.status_code == 404


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_command_serves_the_page_on_its_port():
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own module, no shell
        [
            sys.executable,
            "-m",
            "demo.embed_host",
            "--port",
            str(port),
            "--campaign-url",
            CAMPAIGN_URL,
        ],
        cwd=BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                page = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "the host page did not start"
                time.sleep(0.1)
        assert f'src="{CAMPAIGN_URL}"' in page.text
    finally:
        process.terminate()
        process.wait(timeout=10)
