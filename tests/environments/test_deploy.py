"""Planning an environment's Swarm services from the environment file (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterous.environments.deploy import auto_cpu_shares, command_of, deploy_order, plan_deploy
from clusterous.errors import InputError
from clusterous.formats import Component, Environment, Tunnel, load_environment

COMPAT = Path(__file__).resolve().parents[2].parent / "shared" / "compat" / "clusterous-1.0"
EXAMPLES = Path(__file__).resolve().parents[2] / "environments"
CPUS = {"master": 2.0, "worker": 4.0}


def part(machine: str = "worker", **extra: object) -> Component:
    return Component.model_validate({"machine": machine, "image": "registry:5000/x", **extra})


def env(components: dict[str, Component], tunnels: list[Tunnel] | None = None) -> Environment:
    return Environment(name="demo", components=components, tunnels=tunnels or [])


def test_the_basic_python_file_of_clusterous_1_0_plans_master_then_global_engines() -> None:
    plan = plan_deploy(load_environment(COMPAT / "basic-python-env.yml"), CPUS)
    assert [s.name for s in plan.services] == ["master", "engine"]
    master, engine = plan.services
    assert (master.global_mode, master.replicas, master.cpus) == (False, 1, 2.0)
    assert master.ports == [(8888, 8888)]
    assert master.command == [
        "/bin/sh",
        "-c",
        "/bin/bash /home/data/launch_scripts/launch_master.sh",
    ]
    assert engine.global_mode and engine.cpus == 0.5 and engine.nano_cpus == 500_000_000
    assert engine.constraint == "node.labels.clusterous.group == worker"
    assert engine.labels == {
        "clusterous.environment": "basic-python",
        "clusterous.component": "engine",
    }
    assert engine.attach_volume and not engine.host_network
    assert plan.network == "clusterous-env-basic-python"


def test_a_fixed_count_is_a_replicated_service() -> None:
    spec = plan_deploy(env({"a": part(count=3)}), CPUS).services[0]
    assert (spec.global_mode, spec.replicas) == (False, 3)


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
    assert auto_cpu_shares(components, CPUS) == {"x": 1.5, "y": 1.5, "m": 2.0}


def test_cpu_auto_never_reserves_nothing_or_less() -> None:
    components = {"big": part("worker", cpu=4), "x": part("worker")}
    assert auto_cpu_shares(components, CPUS)["x"] == 0.05


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
    assert any(s.global_mode for s in plan.services), "every example grows with the nodes"
