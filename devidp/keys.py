"""The RSA key that signs the development IdP's id_tokens.

Never committed: it comes from `DEVIDP_RSA_KEY` (PEM) or is generated on first start and kept
in the IdP's data directory, so tokens stay verifiable across restarts.
"""

import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def rsa_private_key_pem(data_dir: Path) -> str:
    """The PEM of the signing key, from the environment or the data directory (created once)."""
    from_env = os.environ.get("DEVIDP_RSA_KEY", "").strip()
    if from_env:
        return from_env
    path = data_dir / "rsa-private-key.pem"
    if not path.exists():
        _write_new_key(path)
    return path.read_text()


def _write_new_key(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    # Written aside, then hard-linked into place: link() fails if another process (a parallel
    # migrate or seed) got there first, and then everyone uses that key.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".rsa-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(pem)
        os.chmod(tmp_name, 0o600)
        with contextlib.suppress(FileExistsError):
            os.link(tmp_name, path)
    finally:
        os.unlink(tmp_name)
