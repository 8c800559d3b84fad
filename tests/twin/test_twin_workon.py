"""Taking an EC2 cluster over from another machine, on the twin (``workon``).

Machine A makes the cluster; machine B, a fresh CLUSTEROUS_HOME with the
same AWS account and the same EC2 key pair (its private key copied over, as
a colleague would receive it), rebuilds the cluster's local state from tags
with ``workon NAME`` (host keys from the instances' tags, nothing asked of
the nodes), and then works on it: status, run, add-nodes; destroy from B
leaves nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.twin.twin_cli import (
    TwinCli,
    busybox_web,
    clean_up,
    free_port,
    http_get,
    nodes_by_name,
    stop_tunnels,
    tagged,
    unique_name,
    wait_for,
)
from twin.core import Twin


@dataclass(frozen=True)
class Machines:
    name: str
    a: TwinCli
    b: TwinCli
    env_file: Path
    port: int


@pytest.fixture(scope="module")
def machines(ec2_twin: Twin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machines]:
    port = free_port()
    live = Machines(
        unique_name("workon"),
        TwinCli(tmp_path_factory.mktemp("home-a"), ec2_twin),
        TwinCli(tmp_path_factory.mktemp("home-b"), ec2_twin),
        busybox_web(tmp_path_factory.mktemp("apps") / "busybox-web", port),
        port,
    )
    try:
        yield live
    finally:
        clean_up(live.b, live.name)


def test_machine_a_creates_the_cluster(machines: Machines) -> None:
    machines.a.setup()
    machines.a.ok("create", "--name", machines.name, "--workers", "1", "--yes")


def test_machine_b_takes_it_over_with_workon_and_sees_its_status(machines: Machines) -> None:
    key_pair = machines.a.key_pair
    key = machines.b.home.parent / f"{key_pair}.pem"
    shutil.copy(machines.a.home / "keys" / key_pair, key)
    key.chmod(0o600)
    machines.b.setup("--key-pair", key_pair, "--key-file", str(key))
    machines.b.ok("workon", machines.name)
    nodes = nodes_by_name(machines.b.status(machines.name))
    assert sorted(nodes) == ["controller", "master-1", "worker-1"]
    assert {n["state"] for n in nodes.values()} == {"up"}
    # The lease the cluster was made with (AWS's default, 8 h) came from the launch tags:
    # B renews it by that much, as A would.
    extended = machines.b.ok("extend", machines.name)
    assert "now ends in 7 h 59 min" in extended.stdout or "now ends in 8 h" in extended.stdout


def test_machine_b_runs_an_environment_on_it(machines: Machines) -> None:
    machines.b.ok("run", str(machines.env_file), "--cluster", machines.name)
    assert "worker on ip-" in wait_for(
        lambda: "ip-" in http_get(machines.port) and http_get(machines.port)
    )


def test_machine_b_adds_a_node(machines: Machines) -> None:
    added = machines.b.ok("add-nodes", "1", "--cluster", machines.name)
    assert "worker-2" in added.stdout
    nodes = nodes_by_name(machines.b.status(machines.name))
    assert nodes["worker-2"]["swarm"] == "ready"


def test_destroy_from_machine_b_leaves_nothing(machines: Machines) -> None:
    stop_tunnels(machines.name)
    machines.b.ok("destroy", machines.name, "--yes", "--delete-volume")
    assert [t for t in tagged(machines.b.twin, machines.name) if not t.startswith("s3")] == []
    assert machines.b.twin.machines() == []
