"""The background tunnel process against a real SSH server (paramiko's, in-process).

It must carry bytes from its local port to the target through the
controller, and refuse to open when the controller's host key is not the
pinned one.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.fake_ssh import start_ssh_server, upper_echo

from clusterous.environments import tunnels
from clusterous.environments.tunnels import TunnelRecord
from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.ledger import Ledger
from clusterous.records import ClusterState, NodeRecord
from clusterous.remote.keys import generate_ed25519

CLUSTER = "tun"


@dataclass(frozen=True)
class Cluster:
    home: Home
    access: ClusterAccess
    echo_port: int


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    home = Home(tmp_path / "home")
    access = ClusterAccess.of(home, CLUSTER)
    home.cluster_dir(CLUSTER).mkdir(parents=True)
    login = access.new_login_key()
    host = generate_ed25519("controller")
    access.known_hosts.add(access.alias("controller"), host.public_openssh)
    listener = start_ssh_server(host.private_openssh, login.private_openssh)
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
