"""How status decides that a node is up or down from the provider's and Swarm's views."""

from __future__ import annotations

from clusterous.engine.swarm import SwarmNode
from clusterous.manager.status import NodeStatus, display_order
from clusterous.providers.base import NodeView
from clusterous.records import NodeRecord


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
