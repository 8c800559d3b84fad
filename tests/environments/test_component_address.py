"""Where a tunnel goes: the node running its component's task, waited for while Swarm starts it.

After a node or an engine restart, Swarm brings tasks back one by one; a
'clusterous tunnel' run meanwhile waits for its component's task rather than
fail while it is starting. The engine is a stand-in that answers the two calls
component_address makes; the clock is injected, nothing sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest

from clusterous.errors import ClusterousError
from clusterous.environments.swarm_apps import TASK_START_WAIT, component_address
from tests.fakes import FakeClock


class Engine:
    """Answers tasks() with the next state list, one per call (the last one repeats)."""

    def __init__(self, *rounds: list[str]) -> None:
        self.rounds = list(rounds)
        self.api = self
        self.nodes = self

    def tasks(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        states = self.rounds.pop(0) if len(self.rounds) > 1 else self.rounds[0]
        return [{"NodeID": f"n{i}", "Status": {"State": s}} for i, s in enumerate(states)]

    def get(self, node_id: str) -> Any:
        return type("Node", (), {"attrs": {"Status": {"Addr": f"10.0.0.{node_id[1:]}"}}})


def test_a_running_task_is_found_at_once() -> None:
    clock = FakeClock()
    assert component_address(Engine(["running"]), "master", clock, clock.sleep) == "10.0.0.0"
    assert clock.sleeps == []


def test_a_task_swarm_is_still_starting_is_waited_for() -> None:
    clock = FakeClock()
    engine = Engine(["preparing"], ["starting"], ["shutdown", "running"])
    assert component_address(engine, "master", clock, clock.sleep) == "10.0.0.1"
    assert len(clock.sleeps) == 2


def test_a_task_that_never_starts_fails_after_the_wait_with_its_state() -> None:
    clock = FakeClock()
    with pytest.raises(ClusterousError, match="has no running task") as raised:
        component_address(Engine(["preparing"]), "master", clock, clock.sleep)
    assert clock.waited() >= TASK_START_WAIT
    assert "preparing" in raised.value.render()


def test_a_component_with_nothing_starting_fails_at_once() -> None:
    clock = FakeClock()
    with pytest.raises(ClusterousError, match="has no running task"):
        component_address(Engine(["failed", "rejected"]), "master", clock, clock.sleep)
    assert clock.sleeps == []
