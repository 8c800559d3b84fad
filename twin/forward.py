"""A TCP forwarder from an instance's loopback stand-in to its private address.

The twin's VPC networks are Docker ``internal`` networks (no packet leaves
them for the outside world), and Docker publishes no ports from those; so
the twin itself listens on the instance's public stand-in (127.x.y.z:22,
where the CLI connects) and pipes each connection to the node's private
address on the Docker network.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
import threading
from collections.abc import Sequence

log = logging.getLogger("twin.forward")


class PortForward:
    """Connections to ``listen`` from ``sources`` (the security group's CIDRs) go to ``target``."""

    def __init__(
        self,
        listen: tuple[str, int],
        target: tuple[str, int],
        sources: Sequence[str] = ("0.0.0.0/0",),
    ) -> None:
        self.listen = listen
        self.target = target
        self.sources = [ipaddress.ip_network(s) for s in sources]
        self._server = socket.create_server(listen, reuse_port=False)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"forward {listen}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, (address, *_) = self._server.accept()
            except OSError:
                return
            if not any(ipaddress.ip_address(address) in s for s in self.sources):
                log.warning(
                    "%s: refused %s, which the security group does not admit", self.listen, address
                )
                client.close()
                continue
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError as problem:
            log.debug("%s -> %s: %s", self.listen, self.target, problem)
            client.close()
            return
        upstream.settimeout(None)
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()


def pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            source.close()
