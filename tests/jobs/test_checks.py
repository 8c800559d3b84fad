"""A request checked against the cluster: the group, the CPUs a task asks (naming the types
that would fit), before anything is created. The engine is a stand-in listing Swarm nodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from clusterous.errors import ExitCode, InputError, NotFoundError
from clusterous.jobs.checks import check_cpus, choose_group, group_cpus, slots
from clusterous.jobs.swarm_jobs import QUEUE_WINDOW, concurrency
from clusterous.providers.local.catalog import LocalCatalog
from clusterous.records import ClusterState, NodeRecord


@dataclass
class SwarmNode:
    attrs: dict[str, Any]


@dataclass
class Nodes:
    found: list[SwarmNode] = field(default_factory=list)

    def list(self) -> list[SwarmNode]:
        return self.found


@dataclass
class Engine:
    nodes: Nodes


def swarm_node(group: str, cpus: float, availability: str = "active") -> SwarmNode:
    return SwarmNode(
        {
            "Spec": {"Labels": {"clusterous.group": group}, "Availability": availability},
            "Description": {"Resources": {"NanoCPUs": int(cpus * 1e9)}},
        }
    )


def state(*groups: tuple[str, str]) -> ClusterState:
    cluster = ClusterState("demo", "local", "local")
    for number, (group, itype) in enumerate(groups):
        cluster.nodes.append(NodeRecord(f"{group}-{number}", group, itype, f"i-{number}"))
    return cluster


def test_the_default_group_is_worker_and_an_unknown_one_lists_the_groups() -> None:
    cluster = state(("master", "small"), ("worker", "medium"))
    assert choose_group(cluster, None) == "worker"
    with pytest.raises(NotFoundError) as refused:
        choose_group(cluster, "gpu")
    assert refused.value.exit_code == ExitCode.BAD_INPUT
    assert "its groups are: master, worker" in refused.value.render()
    assert "clusterous add-nodes 1 gpu" in refused.value.render()


def test_a_cluster_of_several_groups_without_worker_asks_for_one() -> None:
    with pytest.raises(InputError, match="add --group GROUP"):
        choose_group(state(("master", "small"), ("spark", "large")), None)


def test_more_cpus_than_any_node_has_names_the_types_that_would_fit() -> None:
    engine = Engine(Nodes([swarm_node("worker", 2), swarm_node("master", 1)]))
    cluster = state(("worker", "medium"))
    check_cpus(engine, LocalCatalog("debian", None), cluster, "worker", 2.0)
    with pytest.raises(InputError) as refused:
        check_cpus(engine, LocalCatalog("debian", None), cluster, "worker", 3.0)
    text = refused.value.render()
    assert "--cpus 3 is more than any node of group 'worker' has (at most 2 CPUs" in text
    assert "types that would fit: large (4 CPUs), xlarge (8 CPUs)" in text
    assert "clusterous add-nodes 1 worker --type large" in text


def test_drained_nodes_do_not_count_as_room() -> None:
    engine = Engine(Nodes([swarm_node("worker", 8, "drain"), swarm_node("worker", 1)]))
    with pytest.raises(InputError):
        check_cpus(engine, LocalCatalog("d", None), state(("worker", "small")), "worker", 2.0)


def test_the_slots_of_a_group_are_what_its_active_nodes_run_at_once() -> None:
    client = Engine(Nodes([
        swarm_node("worker", 4), swarm_node("worker", 2), swarm_node("worker", 8, "drain"),
        swarm_node("master", 16),
    ]))  # fmt: skip
    assert slots(group_cpus(client, "worker"), 2) == 3
    assert slots(group_cpus(client, "worker"), 1.5) == 3
    assert slots(group_cpus(client, "worker"), 0.5) == 12
    assert slots(group_cpus(client, "worker"), None) == 6  # one per CPU
    assert slots(group_cpus(client, "gpu"), 1) == 0


def test_swarm_holds_what_the_nodes_run_plus_a_bounded_queue() -> None:
    assert concurrency(1000, 3) == 3 + QUEUE_WINDOW
    assert concurrency(20, 3) == 20
    assert concurrency(1000, 0) == QUEUE_WINDOW
    assert concurrency(1, 0) == 1
