from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

from demo.env_file import env_file_complete


def _values(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_a_new_env_file_gets_fresh_usable_keys(tmp_path):
    path = tmp_path / ".env"

    env_file_complete(path, public_base_url="http://127.0.0.1:8100")

    values = _values(path)
    assert values["DJANGO_DEBUG"] == "1"
    assert values["PUBLIC_BASE_URL"] == "http://127.0.0.1:8100"
    Fernet(values["FIELD_ENCRYPTION_KEY"])
    Webhook(values["DEMO_WEBHOOK_SECRET"])
    assert values["DEVIDP_CLIENT_ID"] and len(values["DEVIDP_CLIENT_SECRET"]) >= 40
    assert path.stat().st_mode & 0o077 == 0
    other = tmp_path / "other.env"
    env_file_complete(other, public_base_url="http://127.0.0.1:8100")
    assert _values(other)["DJANGO_SECRET_KEY"] != values["DJANGO_SECRET_KEY"]


def test_an_older_env_file_only_gains_the_missing_keys(tmp_path):
    path = tmp_path / ".env"
    path.write_text("# mine\nDJANGO_SECRET_KEY=keep-me\nPUBLIC_BASE_URL=https://tunnel.example")

    added = env_file_complete(path, public_base_url="http://127.0.0.1:8000")

    assert "DJANGO_SECRET_KEY" not in added and "DEVIDP_CLIENT_SECRET" in added
    values = _values(path)
    assert values["DJANGO_SECRET_KEY"] == "keep-me"
    assert values["PUBLIC_BASE_URL"] == "https://tunnel.example"
    assert path.read_text().startswith("# mine\n")
    assert env_file_complete(path, public_base_url="http://127.0.0.1:8000") == []
