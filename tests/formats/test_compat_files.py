"""Every Clusterous 1.0 file loads and means what it meant in Clusterous 1.0."""

from __future__ import annotations

from pathlib import Path

from clusterous.formats import (
    Component,
    NodeGroup,
    PortMapping,
    Tunnel,
    load_cluster_profile,
    load_environment,
    load_profile_and_environment,
)
from tests.formats.format_helpers import problems_of


def test_basic_python_profile_is_the_default_cluster_of_one_worker(compat_dir: Path) -> None:
    profile = load_cluster_profile(compat_dir / "basic-python-cluster.yml")
    assert profile.name == "basiccluster"
    assert profile.node_groups == {
        "master": NodeGroup(type="t2.micro", count=1),
        "worker": NodeGroup(type="t2.micro", count=1),
    }
    assert profile.controller_type is None
    assert profile.environment_file is None
    assert profile.source == compat_dir / "basic-python-cluster.yml"


def test_ipython_profile_sets_the_controller_type_and_two_workers(compat_dir: Path) -> None:
    profile = load_cluster_profile(compat_dir / "ipython-cluster.yml")
    assert profile.name == "ippcluster"
    assert profile.controller_type == "c3.large"
    assert profile.node_groups["worker"] == NodeGroup(type="c3.large", count=2)


def test_mycluster_template_is_refused_naming_cluster_name(compat_dir: Path) -> None:
    path = compat_dir / "mycluster.yml"
    [problem] = problems_of(lambda: load_cluster_profile(path))
    assert problem.startswith(f"{path}:1: cluster_name: ")
    assert "<your cluster name here>" in problem
    assert "placeholder" in problem


def test_spark_profile_takes_its_groups_from_the_environment_file(compat_dir: Path) -> None:
    profile, environment = load_profile_and_environment(compat_dir / "spark-cluster.yml")
    assert profile.name == "sparkcluster"
    assert profile.controller_type == "c3.large"
    assert profile.environment_file == compat_dir / "spark-env.yml"
    assert profile.node_groups == {
        "master": NodeGroup(type="c3.large", count=1),
        "spark": NodeGroup(type="c3.large", count=2),
    }
    assert environment is not None
    assert environment.name == "ipython-spark"


def test_basic_python_environment_keeps_its_meaning(compat_dir: Path) -> None:
    environment = load_environment(compat_dir / "basic-python-env.yml")
    assert environment.name == "basic-python"
    assert environment.cluster is None
    assert environment.copy_dirs == [compat_dir / "launch_scripts"]
    assert [(i.dockerfile, i.image_name) for i in environment.images] == [
        (compat_dir / "image", "basic-python")
    ]
    assert environment.components["master"] == Component(
        machine="master",
        cpu="auto",
        image="registry:5000/basic-python",
        cmd="/bin/bash /home/data/launch_scripts/launch_master.sh",
        ports=[PortMapping(host=8888, container=8888)],
    )
    engine = environment.components["engine"]
    assert (engine.machine, engine.cpu, engine.count, engine.depends) == (
        "worker",
        0.5,
        "auto",
        ["master"],
    )
    assert environment.tunnels == [
        Tunnel(
            local_port=8888,
            component="master",
            remote_port=8888,
            message="To access the master, use this URL: {url}",
        )
    ]
    assert environment.deploy_order() == ["master", "engine"]


def test_ipython_environment_keeps_its_meaning(compat_dir: Path) -> None:
    environment = load_environment(compat_dir / "ipython-env.yml")
    controller = environment.components["controller"]
    assert controller.attach_volume is True
    assert controller.docker_network == "host"
    notebook = environment.components["notebook"]
    # unquoted 8889:8889 is a port pair, not YAML 1.1's base-60 integer
    assert notebook.ports == [PortMapping(host=8889, container=8889)]
    assert notebook.depends == ["controller"]
    assert environment.components["engine"].count == "auto"
    [tunnel] = environment.tunnels
    assert (tunnel.local_port, tunnel.component, tunnel.remote_port) == (8889, "notebook", 8889)
    assert tunnel.message is not None and tunnel.message.endswith("use this URL: {url}\n")


def test_spark_environment_alone_keeps_parameter_references(compat_dir: Path) -> None:
    environment = load_environment(compat_dir / "spark-env.yml")
    assert environment.cluster is not None
    assert environment.group_names == ["master", "spark"]
    assert environment.cluster["spark"].type == "$spark_instance_type"
    assert environment.cluster["spark"].count == "$spark_instance_count"
    assert environment.cluster["master"].count == 1
    [tunnel] = environment.tunnels  # a list of one, in this file
    assert (tunnel.local_port, tunnel.component, tunnel.remote_port) == (31888, "notebook", 31888)


def test_central_logging_sample_loads(compat_dir: Path) -> None:
    environment = load_environment(compat_dir / "central-logging-sample.yml")
    assert list(environment.components) == ["master"]
    assert environment.components["master"].image == "ubuntu"
    assert environment.tunnels == []


def test_default_cluster_definition_loads_as_a_cluster_section(compat_dir: Path) -> None:
    environment = load_environment(compat_dir / "default_cluster.yml")
    assert environment.name == "default-cluster"
    assert environment.components == {}
    assert environment.cluster is not None
    assert environment.cluster["worker"].count == "$worker_count"
