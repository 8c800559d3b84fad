"""Planning an environment's Swarm services from the environment file (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterous.environments.deploy import (
    AutoCount,
    auto_count,
    auto_cpu_shares,
    auto_reservation,
    command_of,
    deploy_order,
    plan_deploy,
    tasks_per_node,
)
from clusterous.errors import InputError
from clusterous.formats import Component, Environment, Tunnel, load_environment

COMPAT = Path(__file__).resolve().parents[2].parent / "shared" / "compat" / "clusterous-1.0"
EXAMPLES = Path(__file__).resolve().parents[2] / "environments"
CPUS = {"master": [2.0], "worker": [4.0, 4.0]}
SHARES = {"master": 2.0, "worker": 4.0}


def part(machine: str = "worker", **extra: object) -> Component:
    return Component.model_validate({"machine": machine, "image": "registry:5000/x", **extra})


def env(components: dict[str, Component], tunnels: list[Tunnel] | None = None) -> Environment:
    return Environment(name="demo", components=components, tunnels=tunnels or [])


def test_the_basic_python_file_of_clusterous_1_0_plans_master_then_engines_per_cpu() -> None:
    plan = plan_deploy(load_environment(COMPAT / "basic-python-env.yml"), CPUS)
    assert [s.name for s in plan.services] == ["master", "engine"]
    master, engine = plan.services
    assert (master.replicas, master.max_per_node, master.cpus) == (1, 0, 2.0)
    assert master.ports == [(8888, 8888)]
    assert master.command == [
        "/bin/sh",
        "-c",
        "/bin/bash /home/data/launch_scripts/launch_master.sh",
    ]
    # cpu 0.5 on two 4-CPU workers: 8 per node, 16 in all, as 1.0 ran them.
    assert (engine.replicas, engine.max_per_node) == (16, 8)
    assert engine.cpus == 0.5 and engine.nano_cpus == 500_000_000
    assert engine.constraint == "node.labels.clusterous.group == worker"
    assert engine.labels == {
        "clusterous.environment": "basic-python",
        "clusterous.component": "engine",
        "clusterous.group": "worker",
        "clusterous.count-auto": "0.5",
    }
    assert engine.attach_volume and not engine.host_network
    assert plan.network == "clusterous-env-basic-python"


def test_the_1_0_basic_python_engines_run_4_per_c3_large_as_in_1_0() -> None:
    two_c3_large = {"master": [2.0], "worker": [2.0, 2.0]}  # 2 vCPUs each
    environment = load_environment(COMPAT / "basic-python-env.yml")
    engine = plan_deploy(environment, two_c3_large).service("engine")
    assert (engine.replicas, engine.max_per_node) == (8, 4)


def test_the_e2e_stand_in_for_basic_python_plans_what_the_1_0_file_plans() -> None:
    shape = Path(__file__).resolve().parents[1] / "e2e" / "envs" / "basic-python-shape"
    cpus = {"master": [1.0], "worker": [2.0, 1.0]}
    ours = plan_deploy(load_environment(shape / "env.yml"), cpus)
    theirs = plan_deploy(load_environment(COMPAT / "basic-python-env.yml"), cpus)
    counted = [
        [(s.name, s.replicas, s.max_per_node, s.cpus) for s in p.services] for p in (ours, theirs)
    ]
    assert counted[0] == counted[1] == [("master", 1, 0, 1.0), ("engine", 6, 4, 0.5)]


def test_a_fixed_count_is_a_replicated_service() -> None:
    spec = plan_deploy(env({"a": part(count=3)}), CPUS).services[0]
    assert (spec.replicas, spec.max_per_node) == (3, 0)
    assert "clusterous.count-auto" not in spec.labels


@pytest.mark.parametrize(
    ("node_cpus", "cpu", "per_node"),
    [
        (2.0, 0.5, 4),  # a c3.large with 1.0's basic-python engines
        (1.0, 0.5, 2),
        (1.0, 0.3, 3),
        (0.3, 0.1, 3),  # not 2: 0.3 / 0.1 is 2.9999999999999996 in floats
        (4.0, 1.5, 2),
        (1.0, 2.0, 1),  # a task larger than its node still runs once there
        (8.0, None, 1),  # cpu: auto is one per node
    ],
)
def test_count_auto_runs_node_cpus_divided_by_cpu_per_node_at_least_one(
    node_cpus: float, cpu: float | None, per_node: int
) -> None:
    assert tasks_per_node(node_cpus, cpu) == per_node


def test_count_auto_sums_each_nodes_own_count_and_caps_a_node_at_the_largest() -> None:
    assert auto_count([1.0, 2.0, 2.0], 0.5) == AutoCount(replicas=10, per_node=4)
    assert auto_count([1.0, 4.0], None) == AutoCount(replicas=2, per_node=1)
    assert auto_count([], 0.5) == AutoCount(replicas=0, per_node=1)


def test_count_auto_reserves_its_cpu_but_never_more_than_the_smallest_node() -> None:
    assert auto_reservation([2.0, 4.0], 0.5) == 0.5
    assert auto_reservation([1.0, 4.0], 3.0) == 1.0
    spec = plan_deploy(env({"big": part(cpu=3, count="auto")}), {"worker": [1.0, 2.0]})
    assert (spec.services[0].cpus, spec.services[0].replicas) == (1.0, 2)


def test_count_auto_with_cpu_auto_is_one_task_per_node_sharing_the_node() -> None:
    spec = plan_deploy(env({"a": part(count="auto")}), CPUS).services[0]
    assert (spec.replicas, spec.max_per_node, spec.cpus) == (2, 1, 4.0)
    assert spec.labels["clusterous.count-auto"] == "auto"


def test_depends_orders_components_after_their_dependencies() -> None:
    components = {
        "c": part(depends="b"),
        "b": part(depends="a"),
        "a": part(),
        "d": part(depends=["a", "c"]),
    }
    assert deploy_order(components) == ["a", "b", "c", "d"]


def test_a_dependency_cycle_is_refused_naming_the_circle() -> None:
    with pytest.raises(InputError, match=r"in a circle: .*a.*b") as raised:
        deploy_order({"a": part(depends="b"), "b": part(depends="a"), "c": part()})
    assert raised.value.exit_code == 2


def test_a_dependency_on_an_unknown_component_is_refused() -> None:
    with pytest.raises(InputError, match="depends on 'ghost'"):
        deploy_order({"a": part(depends="ghost")})


def test_cpu_auto_shares_what_fixed_reservations_leave_evenly() -> None:
    components = {
        "fixed": part("worker", cpu=1),
        "x": part("worker", cpu="auto"),
        "y": part("worker", cpu="auto"),
        "m": part("master", cpu="auto"),
    }
    assert auto_cpu_shares(components, SHARES) == {"x": 1.5, "y": 1.5, "m": 2.0}


def test_cpu_auto_never_reserves_nothing_or_less() -> None:
    components = {"big": part("worker", cpu=4), "x": part("worker")}
    assert auto_cpu_shares(components, SHARES)["x"] == 0.05


def test_a_tunnel_publishes_its_port_when_the_component_does_not() -> None:
    tunnels = [Tunnel(local_port=9000, component="web", remote_port=8787)]
    plan = plan_deploy(env({"web": part(ports="2000:8000")}, tunnels), CPUS)
    assert plan.services[0].ports == [(2000, 8000), (8787, 8787)]


def test_host_networking_publishes_nothing() -> None:
    tunnels = [Tunnel(local_port=9000, component="web", remote_port=8787)]
    spec = plan_deploy(env({"web": part(docker_network="host")}, tunnels), CPUS).services[0]
    assert spec.host_network and spec.ports == []


def test_a_group_the_cluster_lacks_is_refused_with_the_add_nodes_command() -> None:
    with pytest.raises(InputError, match="node group 'gpu'") as raised:
        plan_deploy(env({"a": part("gpu")}), CPUS)
    assert "clusterous add-nodes 1 gpu" in raised.value.render()


def test_a_tunnel_to_an_unknown_component_is_refused() -> None:
    tunnels = [Tunnel(local_port=9000, component="nope", remote_port=1)]
    with pytest.raises(InputError, match="'nope'"):
        plan_deploy(env({"a": part()}, tunnels), CPUS)


def test_a_string_command_runs_through_the_shell_and_a_list_as_is() -> None:
    assert command_of("echo $HOME") == ["/bin/sh", "-c", "echo $HOME"]
    assert command_of(["python", "-m", "x"]) == ["python", "-m", "x"]
    assert command_of(None) is None


def test_no_volume_when_attach_volume_is_off_and_environment_passes_through() -> None:
    spec = plan_deploy(
        env({"a": part(attach_volume=False, environment={"K": "v"})}), CPUS
    ).services[0]
    assert not spec.attach_volume and spec.environment == {"K": "v"}


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()))
def test_every_shipped_example_loads_and_plans(example: str) -> None:
    environment = load_environment(EXAMPLES / example / "env.yml")
    plan = plan_deploy(environment, CPUS)
    assert plan.services
    for image in environment.images:
        assert (image.dockerfile / "Dockerfile").is_file()
    for directory in environment.copy_dirs:
        assert directory.is_dir()
    assert environment.tunnels, "every example is reached through a tunnel"
    grows = [s for s in plan.services if "clusterous.count-auto" in s.labels]
    assert grows, "every example grows with the nodes"
