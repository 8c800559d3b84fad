"""Pinned-key SSH against a real SSH server (paramiko's, in-process on 127.0.0.1)."""

from __future__ import annotations

import io
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from clusterous.remote.keys import KeyPair, generate_ed25519, write_private_key
from clusterous.remote.ssh import (
    Endpoint,
    HostKeyMismatch,
    KnownHosts,
    SSHUnavailable,
    connect,
    pump,
    wait_for_ssh,
)


class _Server(paramiko.ServerInterface):
    def __init__(self, login_key: paramiko.PKey) -> None:
        self.login_key = login_key
        self.destinations: dict[int, tuple[str, int]] = {}

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == "root" and key.get_base64() == self.login_key.get_base64()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_direct_tcpip_request(
        self, chanid: int, origin: tuple[str, int], destination: tuple[str, int]
    ) -> int:
        if destination[0] != "127.0.0.1":  # this test server reaches loopback only
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        self.destinations[chanid] = destination
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        threading.Thread(target=_execute, args=(channel, command.decode()), daemon=True).start()
        return True


def _execute(channel: paramiko.Channel, command: str) -> None:
    """Run the command locally with bash, feeding it the channel's stdin."""
    stdin = b""
    while True:
        chunk = channel.recv(65536)
        if not chunk:
            break
        stdin += chunk
    done = subprocess.run(["bash", "-c", command], input=stdin, capture_output=True)
    channel.sendall(done.stdout)
    channel.sendall_stderr(done.stderr)
    channel.send_exit_status(done.returncode)
    channel.close()


@dataclass
class FakeNode:
    port: int
    host_key: KeyPair
    login_key_path: Path


def _serve(listener: socket.socket, host_key: paramiko.PKey, login: paramiko.PKey) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        transport = paramiko.Transport(client)
        transport.add_server_key(host_key)
        server = _Server(login)
        try:
            transport.start_server(server=server)
        except (paramiko.SSHException, EOFError):
            continue
        threading.Thread(target=_forward_channels, args=(transport, server), daemon=True).start()


def _forward_channels(transport: paramiko.Transport, server: _Server) -> None:
    """Serve direct-tcpip channels (jumps and forwards) by connecting to their destination."""
    while transport.is_active():
        channel = transport.accept(timeout=0.5)
        if channel is None or channel.get_id() not in server.destinations:
            continue
        target = socket.create_connection(server.destinations[channel.get_id()])
        threading.Thread(
            target=pump, args=(target, channel, threading.Event()), daemon=True
        ).start()


@pytest.fixture
def fake_node(tmp_path: Path) -> Iterator[FakeNode]:
    host_pair = generate_ed25519("host")
    login_pair = generate_ed25519("login")
    key_path = tmp_path / "id_ed25519"
    write_private_key(key_path, login_pair)
    host_key = paramiko.Ed25519Key.from_private_key(io.StringIO(host_pair.private_openssh))
    login_key = paramiko.Ed25519Key.from_private_key(io.StringIO(login_pair.private_openssh))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    threading.Thread(target=_serve, args=(listener, host_key, login_key), daemon=True).start()
    try:
        yield FakeNode(listener.getsockname()[1], host_pair, key_path)
    finally:
        listener.close()


def _pinned(tmp_path: Path, alias: str, public: str) -> KnownHosts:
    known = KnownHosts(tmp_path / "known_hosts")
    known.add(alias, public)
    return known


def test_connect_accepts_the_pinned_host_key_and_runs_commands(
    fake_node: FakeNode, tmp_path: Path
) -> None:
    known = _pinned(tmp_path, "node-a", fake_node.host_key.public_openssh)
    endpoint = Endpoint("node-a", "127.0.0.1", fake_node.port)
    lines: list[str] = []
    with connect(endpoint, fake_node.login_key_path, known) as session:
        result = session.run(
            "cat; echo to-stderr >&2; exit 3", stdin="hello\nworld\n", on_output=lines.append
        )
    assert result.exit_status == 3
    assert result.stdout == "hello\nworld\n"
    assert result.stderr == "to-stderr\n"
    assert "hello" in lines and "to-stderr" in lines


def test_connect_refuses_a_host_key_other_than_the_pinned_one(
    fake_node: FakeNode, tmp_path: Path
) -> None:
    known = _pinned(tmp_path, "node-a", generate_ed25519().public_openssh)
    with pytest.raises(HostKeyMismatch, match="unexpected SSH host key"):
        connect(Endpoint("node-a", "127.0.0.1", fake_node.port), fake_node.login_key_path, known)


def test_connect_refuses_a_node_with_no_pinned_key(fake_node: FakeNode, tmp_path: Path) -> None:
    known = KnownHosts(tmp_path / "known_hosts")
    with pytest.raises(HostKeyMismatch, match="no pinned host key"):
        connect(Endpoint("node-a", "127.0.0.1", fake_node.port), fake_node.login_key_path, known)


def test_a_wrong_host_key_is_never_retried_while_waiting(
    fake_node: FakeNode, tmp_path: Path
) -> None:
    known = _pinned(tmp_path, "node-a", generate_ed25519().public_openssh)
    endpoint = Endpoint("node-a", "127.0.0.1", fake_node.port)
    with pytest.raises(HostKeyMismatch):
        wait_for_ssh(endpoint, fake_node.login_key_path, known, deadline=float("inf"))


def test_waiting_for_a_silent_node_ends_at_the_deadline(
    tmp_path: Path, fake_node: FakeNode
) -> None:
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    port = unused.getsockname()[1]
    unused.close()
    known = _pinned(tmp_path, "node-b", fake_node.host_key.public_openssh)
    clock = iter(range(100))
    with pytest.raises(SSHUnavailable, match="did not accept SSH in time"):
        wait_for_ssh(
            Endpoint("node-b", "127.0.0.1", port),
            fake_node.login_key_path,
            known,
            deadline=3,
            clock=lambda: next(clock),
            sleep=lambda _: None,
        )


def test_known_hosts_keeps_one_entry_per_alias(tmp_path: Path) -> None:
    known = KnownHosts(tmp_path / "known_hosts")
    first, second = generate_ed25519(), generate_ed25519()
    known.add("a", first.public_openssh)
    known.add("b", first.public_openssh)
    known.add("a", second.public_openssh)
    known.remove("b")
    assert known.entries() == {"a": " ".join(second.public_openssh.split()[:2])}
    assert (tmp_path / "known_hosts").stat().st_mode & 0o777 == 0o600


def _echo_server() -> socket.socket:
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


def test_a_local_forward_reaches_a_port_seen_from_the_node(
    fake_node: FakeNode, tmp_path: Path
) -> None:
    known = _pinned(tmp_path, "node-a", fake_node.host_key.public_openssh)
    echo = _echo_server()
    endpoint = Endpoint("node-a", "127.0.0.1", fake_node.port)
    try:
        with (
            connect(endpoint, fake_node.login_key_path, known) as session,
            session.forward("127.0.0.1", echo.getsockname()[1]) as forward,
            socket.create_connection(("127.0.0.1", forward.port), timeout=5) as client,
        ):
            client.sendall(b"through the tunnel")
            assert client.recv(1024) == b"THROUGH THE TUNNEL"
    finally:
        echo.close()


def test_a_node_behind_the_controller_is_reached_through_it_with_its_own_pinned_key(
    fake_node: FakeNode, tmp_path: Path
) -> None:
    known = _pinned(tmp_path, "controller", fake_node.host_key.public_openssh)
    known.add("worker-1", fake_node.host_key.public_openssh)
    controller = connect(
        Endpoint("controller", "127.0.0.1", fake_node.port), fake_node.login_key_path, known
    )
    with controller:
        worker = Endpoint("worker-1", "127.0.0.1", fake_node.port)
        with connect(worker, fake_node.login_key_path, known, via=controller) as session:
            assert session.run("echo via-jump").stdout == "via-jump\n"
        known.add("worker-1", generate_ed25519().public_openssh)
        with pytest.raises(HostKeyMismatch):
            connect(worker, fake_node.login_key_path, known, via=controller)
