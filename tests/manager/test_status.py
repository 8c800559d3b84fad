"""How status decides that a node is up or down from the provider's and Swarm's views."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import Mock

from clusterous.engine.swarm import SwarmNode
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.status import ClusterStatus, NodeStatus, cluster_status, display_order
from clusterous.providers.base import NodeView, Provider
from clusterous.records import ClusterState, LeaseRecord, NodeRecord


def _merge(view: NodeView | None, swarm: SwarmNode | None, known: bool = True) -> NodeStatus:
    return NodeStatus.merge("worker-1", "worker", "small", "i-1", "10.0.0.2", view, swarm, known)


def _view(state: str) -> NodeView:
    return NodeView("worker-1", "worker", "small", "i-1", state)


def _swarm(state: str) -> SwarmNode:
    return SwarmNode("n1", "worker-1", state, "active", "worker", "10.0.0.2")


def test_a_running_machine_ready_in_swarm_is_up() -> None:
    assert _merge(_view("running"), _swarm("ready")).state == "up"


def test_a_stopped_or_missing_machine_is_down_whatever_swarm_still_says() -> None:
    assert _merge(_view("stopped"), _swarm("ready")).state == "down"
    assert _merge(None, _swarm("ready")).machine == "missing"
    assert _merge(None, _swarm("ready")).state == "down"


def test_a_running_machine_swarm_lists_as_down_or_not_at_all_is_down() -> None:
    assert _merge(_view("running"), _swarm("down")).state == "down"
    assert _merge(_view("running"), None).state == "down"


def test_without_the_controller_swarm_state_is_unknown_not_down() -> None:
    status = _merge(_view("running"), None, known=False)
    assert (status.swarm, status.state) == ("unknown", "unknown")


def test_nodes_are_listed_controller_first_then_by_group_and_number() -> None:
    names = ["worker-10", "controller", "worker-2", "master-1"]
    groups = {
        "worker-10": "worker",
        "controller": "controller",
        "worker-2": "worker",
        "master-1": "master",
    }
    nodes = [NodeRecord(n, groups[n], "small", n) for n in names]
    assert [n.name for n in sorted(nodes, key=display_order)] == [
        "controller",
        "master-1",
        "worker-2",
        "worker-10",
    ]


# -- the lease, when the controller does not answer ---------------------------------


def _unreachable_cluster(machine: str, tmp_path: Path) -> ClusterStatus:
    """A cluster whose controller has no SSH endpoint, its machines in state ``machine``."""
    state = ClusterState(
        "demo",
        "aws",
        "aws",
        lease=LeaseRecord(8.0, 0, expires_at=10_000.0),
        nodes=[NodeRecord("controller", "controller", "t3.small", "i-1")],
    )
    provider = Mock(spec=Provider)
    provider.meter = None
    provider.describe_nodes.return_value = [
        NodeView("controller", "controller", "t3.small", "i-1", machine)
    ]
    access = ClusterAccess.of(Home(tmp_path), "demo")
    return cluster_status(state, provider, access, now=9_000.0)


def test_with_every_machine_gone_status_says_the_lease_ended_them_and_names_destroy(
    tmp_path: Path,
) -> None:
    seen = _unreachable_cluster("missing", tmp_path)
    assert seen.lease is None
    assert any(
        "its lease (or idle stop) ended them" in p and "clusterous destroy demo" in p
        for p in seen.problems
    ), seen.problems


def test_with_the_controller_unreachable_status_shows_the_last_known_end(
    tmp_path: Path,
) -> None:
    seen = _unreachable_cluster("running", tmp_path)
    assert seen.lease is not None
    assert (seen.lease.seconds_left, seen.lease.source) == (1_000.0, "last known")
    assert seen.to_dict()["lease"]["ends_at"] == 10_000.0
