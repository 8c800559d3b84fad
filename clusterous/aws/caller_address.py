"""Learn the caller's public IPv4 address, to default ``allowed_cidr`` to it (/32).

Clusters accept SSH only from the user's CIDR (DESIGN section 2). When the
address cannot be learned (no network, a proxy) the setup wizard asks for
``--allowed-cidr`` instead of guessing. Tests replace ``learn_public_address``
or point it at a local server: this machine has no internet.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.request

CHECKIP_URL = "https://checkip.amazonaws.com/"
TIMEOUT_SECONDS = 3.0


def learn_public_address(url: str = CHECKIP_URL, timeout: float = TIMEOUT_SECONDS) -> str | None:
    """The public IPv4 address AWS sees us coming from, or None if it cannot be learned."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            text = answer.read(64).decode("ascii", errors="replace").strip()
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return text if _is_public_ipv4(text) else None


def _is_public_ipv4(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return address.version == 4 and address.is_global
