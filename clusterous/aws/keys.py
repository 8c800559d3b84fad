"""The SSH key that opens a profile's clusters: made here, kept on the laptop.

clusterous generates an ed25519 key with the ``cryptography`` package, keeps
the private half in ``$CLUSTEROUS_HOME/keys/<key pair name>`` (mode 0600) and
gives AWS only the public half (ImportKeyPair), so AWS never holds the private
key. A key the user brings (``--key-file``) is checked here before any AWS call.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from clusterous.errors import InputError
from clusterous.home import Home, atomic_write


def managed_key_path(home: Home, key_pair: str) -> Path:
    return home.root / "keys" / key_pair


def new_private_key() -> bytes:
    """A fresh ed25519 private key in OpenSSH format, unencrypted (the file is 0600)."""
    from clusterous.remote.keys import generate_ed25519

    return generate_ed25519().private_openssh.encode()


def write_private_key(path: Path, private_key: bytes) -> None:
    atomic_write(path, private_key, mode=0o600)


def check_key_file(path: Path) -> Path:
    """The private key a user names must exist, be readable and be private (0600)."""
    if not path.is_file():
        raise InputError(
            f"key file {str(path)!r} not found",
            fix="give the path of the private key of your EC2 key pair with --key-file, "
            "or leave --key-file out to let clusterous create a key pair",
        )
    if not os.access(path, os.R_OK):
        raise InputError(f"key file {str(path)!r} is not readable", fix=f"chmod 600 {path}")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(
            f"key file {str(path)!r} can be read by other users",
            "SSH private keys must be private",
            f"chmod 600 {path}",
        )
    return path


def public_key_of(path: Path) -> str:
    """The OpenSSH public line of the private key in ``path`` (what ImportKeyPair takes)."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as problem:
        key = _load_pem_private_key(path, problem)
    return (
        key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.OpenSSH, format=serialization.PublicFormat.OpenSSH
        )
        .decode()
    )


def _load_pem_private_key(path: Path, first_problem: Exception) -> Any:
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise InputError(
            f"cannot read the private key in {str(path)!r}",
            f"{first_problem} (clusterous needs an unencrypted RSA or ed25519 key)",
            "use a key without a passphrase, or let clusterous create one: leave --key-file out",
        ) from None
