"""The background tunnel process against a real SSH server (paramiko's, in-process).

It must carry bytes from its local port to the target through the
controller, and refuse to open when the controller's host key is not the
pinned one.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.fake_ssh import start_ssh_server, upper_echo

from clusterous.environments import tunnel_process, tunnels
from clusterous.environments.tunnels import TunnelRecord
from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.ledger import Ledger
from clusterous.records import ClusterState, NodeRecord
from clusterous.remote.keys import generate_ed25519
from clusterous.remote.ssh import Session, SSHUnavailable

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
        assert tunnels.is_our_tunnel(record, CLUSTER) and record.started
        assert tunnels.why_not_open(record, CLUSTER) is None
        with socket.create_connection(("127.0.0.1", record.local_port), timeout=5) as client:
            client.sendall(b"through the tunnel")
            assert client.recv(1024) == b"THROUGH THE TUNNEL"
    finally:
        assert tunnels.stop(record, CLUSTER)
    assert not tunnels.is_our_tunnel(record, CLUSTER)
    assert tunnels.why_not_open(record, CLUSTER) == "its process is gone"
    assert tunnels.port_free(record.local_port)


def test_the_tunnel_process_refuses_a_controller_with_another_host_key(
    cluster: Cluster, tmp_path: Path
) -> None:
    impostor = generate_ed25519("impostor")
    cluster.access.known_hosts.add(cluster.access.alias("controller"), impostor.public_openssh)
    wanted = TunnelRecord(free_port(), "web", "127.0.0.1", cluster.echo_port)
    with pytest.raises(ClusterousError, match="did not open") as raised:
        tunnels.start(cluster.home.root, CLUSTER, wanted, tmp_path / "tunnel.log", timeout=15)
    assert "presented an unexpected SSH host key" in raised.value.render()
    assert tunnels.port_free(wanted.local_port)


def test_a_tunnel_whose_remote_end_does_not_answer_is_not_reported_open(
    cluster: Cluster, tmp_path: Path
) -> None:
    wanted = TunnelRecord(free_port(), "web", "127.0.0.1", free_port())
    with pytest.raises(ClusterousError, match="did not open") as raised:
        tunnels.start(cluster.home.root, CLUSTER, wanted, tmp_path / "tunnel.log", timeout=15)
    assert f"127.0.0.1:{wanted.remote_port} does not answer" in raised.value.render()
    assert tunnels.port_free(wanted.local_port)


class ControllerGone:
    """Logs in once for real; then the controller is gone: logins fail, waits are recorded."""

    def __init__(self, cluster: Cluster) -> None:
        self.real = tunnel_process.controller_session(cluster.home.root, CLUSTER)
        self.logins = 0
        self.waits: list[float] = []

    def connect(self) -> Session:
        self.logins += 1
        if self.logins == 1:
            return self.real()
        raise SSHUnavailable("cannot reach clusterous-tun-controller", "Connection refused")

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_a_tunnel_whose_controller_is_gone_gives_up_after_bounded_retries(
    cluster: Cluster,
) -> None:
    gone = ControllerGone(cluster)
    said: list[str] = []
    relay = tunnel_process.Relay(free_port(), ("127.0.0.1", cluster.echo_port))

    def say(line: str) -> None:
        said.append(line)
        if line.startswith("tunnel open") and relay.session is not None:
            relay.session.close()  # the controller goes away

    code = tunnel_process.supervise(gone.connect, relay, threading.Event(), gone.sleep, say, 0.05)

    assert code == 1
    assert said[0].startswith("tunnel open")
    assert gone.logins == 1 + tunnel_process.MAX_ATTEMPTS == 11
    assert gone.waits == [1, 2, 4, 8, 16, 30, 30, 30, 30]
    assert said[-1].startswith("giving up")
    assert tunnels.port_free(relay.port)


def test_a_tunnel_whose_cluster_was_destroyed_exits_at_once(tmp_path: Path) -> None:
    connect = tunnel_process.controller_session(tmp_path / "home", "gone")
    waits: list[float] = []
    relay = tunnel_process.Relay(free_port(), ("127.0.0.1", 80))

    assert tunnel_process.supervise(connect, relay, threading.Event(), waits.append, print) == 1
    assert waits == []


def test_a_dropped_connection_closes_the_port_and_a_new_login_reopens_it(
    cluster: Cluster,
) -> None:
    connect = tunnel_process.controller_session(cluster.home.root, CLUSTER)
    sessions: list[Session] = []

    def login() -> Session:
        if len(sessions) == 2:
            stopping.set()
            raise SSHUnavailable("stop here")
        sessions.append(connect())
        return sessions[-1]

    def check_and_drop(line: str) -> None:
        if line.startswith("tunnel open"):
            with socket.create_connection(("127.0.0.1", relay.port), timeout=5) as client:
                client.sendall(b"hello")
                assert client.recv(1024) == b"HELLO"
            sessions[-1].close()
        if line.startswith("the SSH connection dropped"):
            assert tunnels.port_free(relay.port)

    stopping = threading.Event()
    relay = tunnel_process.Relay(free_port(), ("127.0.0.1", cluster.echo_port))
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        check_and_drop(line)

    assert tunnel_process.supervise(login, relay, stopping, lambda _: None, say, 0.05) == 0
    assert [line.split(":")[0] for line in said] == [
        "tunnel open",
        "the SSH connection dropped; opening it again",
        "tunnel open",
        "the SSH connection dropped; opening it again",
        "attempt 1 of 10 failed",
    ]
