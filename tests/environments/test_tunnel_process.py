"""The background tunnel process against a real SSH server (paramiko's, in-process).

It must carry bytes from its local port to the target through the
controller, and refuse to open when the controller's host key is not the
pinned one.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from clusterous.environments import tunnels
from clusterous.environments.tunnels import TunnelRecord
from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.ledger import ClusterState, Ledger, NodeRecord
from clusterous.remote.keys import generate_ed25519
from clusterous.remote.ssh import pump

CLUSTER = "tun"


class Gateway(paramiko.ServerInterface):
    """Accepts one login key; opens direct-tcpip channels to 127.0.0.1 only."""

    def __init__(self, login: paramiko.PKey) -> None:
        self.login = login
        self.targets: dict[int, tuple[str, int]] = {}

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = key.asbytes() == self.login.asbytes()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_direct_tcpip_request(
        self, chanid: int, origin: tuple[str, int], destination: tuple[str, int]
    ) -> int:
        if destination[0] != "127.0.0.1":
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        self.targets[chanid] = destination
        return paramiko.OPEN_SUCCEEDED


def serve_gateway(listener: socket.socket, host_key: paramiko.PKey, login: paramiko.PKey) -> None:
    while True:
        try:
            peer, _ = listener.accept()
        except OSError:
            return
        transport = paramiko.Transport(peer)
        transport.add_server_key(host_key)
        gateway = Gateway(login)
        try:
            transport.start_server(server=gateway)
        except (paramiko.SSHException, EOFError):
            continue
        threading.Thread(target=relay, args=(transport, gateway), daemon=True).start()


def relay(transport: paramiko.Transport, gateway: Gateway) -> None:
    while transport.is_active():
        channel = transport.accept(timeout=0.5)
        if channel is not None and channel.get_id() in gateway.targets:
            target = socket.create_connection(gateway.targets[channel.get_id()])
            threading.Thread(
                target=pump, args=(target, channel, threading.Event()), daemon=True
            ).start()


def upper_echo() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve() -> None:
        while True:
            try:
                peer, _ = listener.accept()
            except OSError:
                return
            with peer:
                while data := peer.recv(1024):
                    peer.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    return listener


@dataclass(frozen=True)
class Cluster:
    home: Home
    access: ClusterAccess
    echo_port: int


def key_of(private_openssh: str) -> paramiko.PKey:
    return paramiko.Ed25519Key.from_private_key(io.StringIO(private_openssh))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    home = Home(tmp_path / "home")
    access = ClusterAccess.of(home, CLUSTER)
    home.cluster_dir(CLUSTER).mkdir(parents=True)
    login = access.new_login_key()
    host = generate_ed25519("controller")
    access.known_hosts.add(access.alias("controller"), host.public_openssh)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    args = (listener, key_of(host.private_openssh), key_of(login.private_openssh))
    threading.Thread(target=serve_gateway, args=args, daemon=True).start()
    controller = NodeRecord(
        "controller", "controller", "medium", "i-1", "", "127.0.0.1", listener.getsockname()[1]
    )
    Ledger(home, CLUSTER).create(ClusterState(CLUSTER, "local", "local", nodes=[controller]))
    echo = upper_echo()
    try:
        yield Cluster(home, access, echo.getsockname()[1])
    finally:
        echo.close()
        listener.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_tunnel_process_carries_bytes_and_stops_on_request(
    cluster: Cluster, tmp_path: Path
) -> None:
    wanted = TunnelRecord(free_port(), "web", "127.0.0.1", cluster.echo_port)
    record = tunnels.start(cluster.home.root, CLUSTER, wanted, tmp_path / "tunnel.log")
    try:
        assert tunnels.is_tunnel_process(record.pid)
        with socket.create_connection(("127.0.0.1", record.local_port), timeout=5) as client:
            client.sendall(b"through the tunnel")
            assert client.recv(1024) == b"THROUGH THE TUNNEL"
    finally:
        assert tunnels.stop(record)
    assert not tunnels.is_tunnel_process(record.pid)
    assert tunnels.port_free(record.local_port)


def test_the_tunnel_process_refuses_a_controller_with_another_host_key(
    cluster: Cluster, tmp_path: Path
) -> None:
    impostor = generate_ed25519("impostor")
    cluster.access.known_hosts.add(cluster.access.alias("controller"), impostor.public_openssh)
    wanted = TunnelRecord(free_port(), "web", "127.0.0.1", cluster.echo_port)
    with pytest.raises(ClusterousError, match="did not open") as raised:
        tunnels.start(cluster.home.root, CLUSTER, wanted, tmp_path / "tunnel.log", timeout=15)
    assert "Bad host key" in raised.value.render()
    assert tunnels.port_free(wanted.local_port)
