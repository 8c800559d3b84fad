"""Tunnel bookkeeping: busy ports named with a free one, dead pids never signalled."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from clusterous.environments import tunnels
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
        assert tunnels.stop(record) is False
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
