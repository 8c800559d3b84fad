"""Loopback stand-ins for the public IPv4 addresses moto invents.

Moto gives each instance a real-looking public address that belongs to
somebody else: nothing may ever be sent there. The CLI only ever sees the
stand-in: 127.<block>.x.y, one per public address, stable for the twin's
life, and the twin serves the controller's SSH on it.
"""

from __future__ import annotations

import ipaddress
import threading


class PublicAddresses:
    """moto's public address -> a loopback address of our own (and back)."""

    def __init__(self, block: int = 77) -> None:
        if not 1 <= block <= 254:
            raise ValueError("the loopback block must be 1..254 (127.<block>.x.y)")
        self._base = int(ipaddress.IPv4Address(f"127.{block}.0.0"))
        self._by_public: dict[str, str] = {}
        self._lock = threading.Lock()

    def loopback_for(self, public: str) -> str:
        if public.startswith("127."):
            return public
        with self._lock:
            if public not in self._by_public:
                number = len(self._by_public)
                host = self._base + (number // 250) * 256 + number % 250 + 1
                self._by_public[public] = str(ipaddress.IPv4Address(host))
            return self._by_public[public]
