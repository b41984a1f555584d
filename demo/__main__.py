"""`python -m demo`: start the whole demo (what `make run` does after migrate and seed).

Reads `.env` (without overriding the real environment) so that every process, and the
development IdP's client registration, sees the same DEVIDP_CLIENT_ID / DEVIDP_CLIENT_SECRET and
DEMO_WEBHOOK_SECRET.
"""

import argparse
import os
import sys

from demo.services import BASE_DIR, DemoAddresses, demo_banner, demo_services
from demo.supervisor import Supervisor


def _read_env_file() -> None:
    path = BASE_DIR / ".env"
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--idp-port", type=int, default=int(os.environ.get("DEVIDP_PORT", 9000)))
    parser.add_argument(
        "--receiver-port", type=int, default=int(os.environ.get("WEBHOOK_RECEIVER_PORT", 9100))
    )
    parser.add_argument(
        "--embed-port", type=int, default=int(os.environ.get("EMBED_HOST_PORT", 9200))
    )
    options = parser.parse_args(argv)
    _read_env_file()
    addresses = DemoAddresses(
        host=options.host,
        port=options.port,
        idp_port=options.idp_port,
        receiver_port=options.receiver_port,
        embed_port=options.embed_port,
        public_base_url=os.environ.get("PUBLIC_BASE_URL", ""),
    )
    supervisor = Supervisor(demo_services(addresses))
    return supervisor.run(on_ready=lambda: supervisor.say(demo_banner(addresses)))


if __name__ == "__main__":
    sys.exit(main())
