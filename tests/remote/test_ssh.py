"""Pinned-key SSH against a real SSH server (paramiko's, in-process on 127.0.0.1)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusterous.remote.keys import KeyPair, generate_ed25519, write_private_key
from clusterous.remote.ssh import (
    Endpoint,
    HostKeyMismatch,
    KnownHosts,
    SSHUnavailable,
    connect,
    wait_for_ssh,
)
from tests.fake_ssh import start_ssh_server, upper_echo


@dataclass
class FakeNode:
    port: int
    host_key: KeyPair
    login_key_path: Path


@pytest.fixture
def fake_node(tmp_path: Path) -> Iterator[FakeNode]:
    host_pair = generate_ed25519("host")
    login_pair = generate_ed25519("login")
    key_path = tmp_path / "id_ed25519"
    write_private_key(key_path, login_pair)
    listener = start_ssh_server(host_pair.private_openssh, login_pair.private_openssh)
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


def test_a_command_without_input_reads_an_empty_stdin_and_no_eof_is_sent(
    fake_node: FakeNode, tmp_path: Path
) -> None:
    """The fake server, like sshd, ends the channel when the command ends; a command that
    reads stdin gets its end at once, not the end of our input (which we never send)."""
    known = _pinned(tmp_path, "node-a", fake_node.host_key.public_openssh)
    endpoint = Endpoint("node-a", "127.0.0.1", fake_node.port)
    with connect(endpoint, fake_node.login_key_path, known) as session:
        assert session.run("cat; echo read-all", timeout=10).stdout == "read-all\n"
        assert [session.run("true").exit_status for _ in range(20)] == [0] * 20


def test_our_side_never_starts_a_rekey_before_rfc_4344s_bound(
    fake_node: FakeNode, tmp_path: Path
) -> None:
    """paramiko's own re-key (after 512 MB) can hang its thread on a channel's close."""
    known = _pinned(tmp_path, "node-a", fake_node.host_key.public_openssh)
    endpoint = Endpoint("node-a", "127.0.0.1", fake_node.port)
    with connect(endpoint, fake_node.login_key_path, known) as session:
        packetizer = session.transport.packetizer
        assert (packetizer.REKEY_BYTES, packetizer.REKEY_PACKETS) == (2**36, 2**31)


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


def test_a_local_forward_reaches_a_port_seen_from_the_node(
    fake_node: FakeNode, tmp_path: Path
) -> None:
    known = _pinned(tmp_path, "node-a", fake_node.host_key.public_openssh)
    echo = upper_echo()
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


def test_a_command_socket_carries_a_remote_commands_stdio_and_only_we_may_open_it(
    fake_node: FakeNode, tmp_path: Path
) -> None:
    """How the CLI reaches a node's Docker engine: dial-stdio behind a private unix socket."""
    known = _pinned(tmp_path, "node-a", fake_node.host_key.public_openssh)
    endpoint = Endpoint("node-a", "127.0.0.1", fake_node.port)
    with (
        connect(endpoint, fake_node.login_key_path, known) as session,
        session.command_socket("tr a-z A-Z") as engine,
    ):
        assert engine.path.parent.stat().st_mode & 0o777 == 0o700
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect(str(engine.path))
            client.sendall(b"through the command")
            client.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := client.recv(1024):
                answer += chunk
        assert answer == b"THROUGH THE COMMAND"
        directory = engine.path.parent
    assert not directory.exists()


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
