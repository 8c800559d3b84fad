"""SSH key material generated on the laptop.

The CLI makes every key itself: the user's login key of a cluster and each
node's host key (DESIGN section 2, "host keys are pinned"). Host keys are handed
to the nodes and their public halves written to the cluster's known_hosts, so
no connection ever trusts a key it has not seen before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clusterous.home import atomic_write


@dataclass(frozen=True)
class KeyPair:
    private_openssh: str  # "-----BEGIN OPENSSH PRIVATE KEY-----..."
    public_openssh: str  # "ssh-ed25519 AAAA..."


def generate_ed25519(comment: str = "") -> KeyPair:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return KeyPair(private, f"{public} {comment}".strip())


def write_private_key(path: Path, pair: KeyPair) -> None:
    """Private key 0600 (ssh refuses looser), public half beside it."""
    atomic_write(path, pair.private_openssh, mode=0o600)
    atomic_write(path.with_name(path.name + ".pub"), pair.public_openssh + "\n", mode=0o644)
