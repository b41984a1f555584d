"""Write the local `.env` for the demo, or add the keys an older one lacks; never overwrite.

    python -m demo.env_file .env --public-base-url http://127.0.0.1:8000

Standard library only: it runs before the project is installed. The keys are fresh random
values, so every clone has its own; the file is git-ignored.
"""

import argparse
import base64
import secrets
import sys
from pathlib import Path

DEVIDP_CLIENT_ID = "campaign-sso-demo"


def _fernet_key() -> str:
    # Same format as cryptography's Fernet.generate_key(): 32 random bytes, url-safe base64.
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _webhook_secret() -> str:
    # Standard Webhooks: "whsec_" + base64 of 24 to 64 random bytes.
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def demo_values(*, public_base_url: str) -> dict[str, str]:
    """Every key the demo needs, in the order they are written."""
    return {
        "DJANGO_DEBUG": "1",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": _fernet_key(),
        "ALLOW_HTTP_LOOPBACK_ENDPOINTS": "1",
        "ALLOW_PRIVATE_WEBHOOK_ADDRESSES": "1",
        "PUBLIC_BASE_URL": public_base_url,
        # The development IdP's client for this site, registered there by `make run`.
        "DEVIDP_CLIENT_ID": DEVIDP_CLIENT_ID,
        "DEVIDP_CLIENT_SECRET": secrets.token_urlsafe(32),
        # The demo integration's callback key: its redirect URI is <site>/oauth/callback/<key>,
        # which the development IdP registers too. Random like every integration's.
        "DEVIDP_CALLBACK_KEY": secrets.token_urlsafe(16),
        # Signs the demo webhook endpoint's deliveries; the local receiver checks them with it.
        "DEMO_WEBHOOK_SECRET": _webhook_secret(),
    }


def _keys_in(text: str) -> set[str]:
    keys = set()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            keys.add(line.split("=", 1)[0].removeprefix("export ").strip())
    return keys


def env_file_complete(path: Path, *, public_base_url: str) -> list[str]:
    """Append the missing demo keys to `path` (created if needed); return the keys added."""
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    present = _keys_in(existing)
    missing = {
        key: value
        for key, value in demo_values(public_base_url=public_base_url).items()
        if key not in present
    }
    if missing:
        lines = [f"{key}={value}" for key, value in missing.items()]
        separator = "\n" if existing and not existing.endswith("\n") else ""
        path.write_text(existing + separator + "\n".join(lines) + "\n", encoding="utf-8")
        path.chmod(0o600)
    return list(missing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, nargs="?", default=Path(".env"))
    parser.add_argument("--public-base-url", default="http://127.0.0.1:8000")
    options = parser.parse_args(argv)
    created = not options.path.exists()
    added = env_file_complete(options.path, public_base_url=options.public_base_url)
    if created:
        print(f"Wrote {options.path} with fresh keys.")
    elif added:
        print(f"Added to {options.path}: {', '.join(added)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
