"""Tunnel bookkeeping: busy ports named by owner, with a free one; reused pids never signalled."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from clusterous.environments import tunnels
from clusterous.environments.processes import describe, listening_inodes, port_owner, process_info
from clusterous.environments.tunnels import TunnelRecord
from clusterous.errors import InputError


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield listener.getsockname()[1]


def test_a_port_in_use_is_named_with_a_free_one_to_use(busy_port: int) -> None:
    with pytest.raises(InputError) as raised:
        tunnels.check_port(busy_port, "notebook")
    message = raised.value.render()
    assert f"local port {busy_port}" in message and "'notebook'" in message
    free = tunnels.suggest_free_port(busy_port)
    assert free is not None and f"port {free} is free" in message
    assert tunnels.port_free(free)


def test_a_free_port_passes() -> None:
    tunnels.check_port(1, "x", is_free=lambda port: True)


def test_the_suggestion_skips_ports_in_use() -> None:
    taken = {8888, 8889, 8890}
    assert tunnels.suggest_free_port(8888, lambda p: p not in taken) == 8891


def test_the_message_fills_in_url_and_port() -> None:
    record = TunnelRecord(8889, "notebook", "10.0.0.5", 8888, 0, "open {url} ({port})")
    assert record.rendered_message() == "open http://localhost:8889 (8889)"
    assert "http://localhost:7000" in TunnelRecord(7000, "web", "h", 80).rendered_message()


def test_a_process_that_is_not_a_tunnel_is_never_signalled() -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        record = TunnelRecord(1, "x", "h", 1, other.pid)
        assert not tunnels.is_tunnel_process(other.pid)
        assert tunnels.stop(record, "c") is False
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_a_dead_pid_is_not_running() -> None:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    assert not tunnels.is_tunnel_process(done.pid)
    assert not tunnels.is_tunnel_process(0)
    assert tunnels.is_tunnel_process(os.getpid()) is False


@pytest.fixture
def lookalike() -> Iterator[subprocess.Popen[bytes]]:
    """A process whose command line is a tunnel's: cluster 'blue', local port 8888."""
    argv = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]
    argv += ["-m", tunnels.MODULE, "--cluster", "blue", "--local-port", "8888"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"up\n"  # past exec: /proc shows its own argv
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_reused_pid_with_another_start_time_is_never_signalled(
    lookalike: subprocess.Popen[bytes],
) -> None:
    info = process_info(lookalike.pid)
    assert info is not None and info.started
    recorded_earlier = TunnelRecord(8888, "web", "h", 80, lookalike.pid, started="1")
    assert not tunnels.is_our_tunnel(recorded_earlier, "blue")
    assert tunnels.stop(recorded_earlier, "blue") is False
    assert lookalike.poll() is None
    assert tunnels.is_our_tunnel(replace(recorded_earlier, started=info.started), "blue")


def test_a_pid_running_the_tunnel_of_another_cluster_or_port_is_never_signalled(
    lookalike: subprocess.Popen[bytes],
) -> None:
    started = process_info(lookalike.pid).started  # type: ignore[union-attr]
    other_cluster = TunnelRecord(8888, "web", "h", 80, lookalike.pid, started=started)
    other_port = TunnelRecord(8889, "web", "h", 80, lookalike.pid, started=started)
    assert tunnels.stop(other_cluster, "green") is False
    assert tunnels.stop(other_port, "blue") is False
    assert lookalike.poll() is None
    assert tunnels.stop(other_cluster, "blue") is True
    assert process_info(lookalike.pid) is None


def test_an_old_record_without_a_start_time_is_matched_on_its_command_line(
    lookalike: subprocess.Popen[bytes],
) -> None:
    old = TunnelRecord(8888, "web", "h", 80, lookalike.pid)
    assert tunnels.is_our_tunnel(old, "blue")
    assert not tunnels.is_our_tunnel(old, "green")


def test_a_port_taken_by_another_program_is_named_by_its_process() -> None:
    script = (
        "import socket, sys, time\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
        "print(s.getsockname()[1], flush=True); time.sleep(60)\n"
    )
    squatter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert squatter.stdout is not None
        port = int(squatter.stdout.readline())
        owner = port_owner(port)
        assert owner is not None and owner.pid == squatter.pid
        with pytest.raises(InputError) as raised:
            tunnels.check_port(port, "notebook")
    finally:
        squatter.kill()
        squatter.wait()
    message = raised.value.render()
    assert f"{owner.name} (pid {squatter.pid}) listens on it" in message
    assert f"stop {owner.name} (pid {squatter.pid})" in message
    assert "choose another local port" in message


def test_a_port_whose_owner_cannot_be_seen_is_taken_by_another_program(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
    row = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 4242"
    (tmp_path / "net" / "tcp").write_text(f"{header}\n{row}\n")
    assert listening_inodes(8080, tmp_path) == {"4242"}
    assert listening_inodes(8081, tmp_path) == set()
    assert describe(port_owner(8080, tmp_path)) == "another program"
