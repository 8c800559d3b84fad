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
    pinned = cpus_in(cpuset_for(cpus, host, "172.18.0.11"))
    assert len(pinned) == len(set(pinned)) == count
    assert all(0 <= cpu < host for cpu in pinned)


def test_consecutive_nodes_start_on_different_cpus_so_a_launch_shares_the_machine_evenly() -> None:
    firsts = [cpus_in(cpuset_for(1, 2, f"172.18.0.{host}"))[0] for host in range(11, 17)]
    assert sorted(firsts) == [0, 0, 0, 1, 1, 1]
    assert firsts[0] != firsts[1]  # worker-1 and worker-2 of a 2-worker cluster
    eight = {cpus_in(cpuset_for(1, 8, f"10.0.3.{host}"))[0] for host in range(20, 28)}
    assert eight == set(range(8))
