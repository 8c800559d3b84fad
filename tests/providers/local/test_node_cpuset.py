"""A local node is pinned to its instance type's number of host CPUs (no Docker needed)."""

from __future__ import annotations

import pytest

from clusterous.providers.local.node_container import cpuset_for


def cpus_in(cpuset: str) -> list[int]:
    return [int(cpu) for cpu in cpuset.split(",")]


@pytest.mark.parametrize(("cpus", "host", "count"), [(1, 8, 1), (2, 8, 2), (4, 2, 2), (0.5, 4, 1)])
def test_a_node_gets_its_types_cpus_never_more_than_the_host_has(
    cpus: float, host: int, count: int
) -> None:
    pinned = cpus_in(cpuset_for(cpus, host, "clusterous-x-worker-1"))
    assert len(pinned) == len(set(pinned)) == count
    assert all(0 <= cpu < host for cpu in pinned)


def test_nodes_of_one_cluster_do_not_all_start_at_the_first_cpu() -> None:
    firsts = {cpus_in(cpuset_for(1, 8, f"clusterous-x-worker-{n}"))[0] for n in range(1, 9)}
    assert len(firsts) > 1
