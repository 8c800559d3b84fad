"""The OpenSSH command line of 'clusterous ssh': keys pinned, nothing of the laptop forwarded."""

from __future__ import annotations

import itertools
import shlex
from pathlib import Path

import pytest

from clusterous.manager.access import ClusterAccess
from clusterous.records import ClusterState, NodeRecord
from clusterous.remote.ssh import KnownHosts


def pairs(argv: list[str]) -> list[tuple[str, str]]:
    return list(itertools.pairwise(argv))


@pytest.mark.parametrize("node", ["controller", "worker-0"])
def test_ssh_to_a_node_never_forwards_the_laptops_ssh_agent(tmp_path: Path, node: str) -> None:
    access = ClusterAccess("web", tmp_path / "id_ed25519", KnownHosts(tmp_path / "known_hosts"))
    state = ClusterState("web", "local", "local")
    state.nodes = [
        NodeRecord("controller", "controller", "local", "c1", "10.0.0.2", "127.0.0.1", 2222),
        NodeRecord("worker-0", "worker", "local", "c2", "10.0.0.3"),
    ]
    argv = access.ssh_command(state, state.node(node))
    assert ("-o", "ForwardAgent=no") in pairs(argv)
    proxy = [a for a in argv if a.startswith("ProxyCommand=")]
    for jump in proxy:  # the hop through the controller says the same
        assert ("-o", "ForwardAgent=no") in pairs(shlex.split(jump.removeprefix("ProxyCommand=")))
