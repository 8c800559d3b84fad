"""``count: auto`` runs what Clusterous 1.0 ran, on a local cluster of known CPUs.

The 1.0 ``basic-python`` shape (engines at ``cpu: 0.5``, ``count: auto``) runs
on workers of type ``medium``: 2 CPUs, the vCPUs of 1.0's c3.large, so 4
engines per worker, as 1.0 ran there. Each node container is pinned to its
type's CPUs, and the test reads what Swarm sees from the controller. After
``add-nodes`` the engines grow by a node's count, after ``rm-nodes`` they
shrink back. The cluster is made with 1.0's ``create --no-run`` from a profile
naming the environment, which then runs only when the test says so. Only the
test's own containers and 127.0.0.1 are contacted.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.e2e.cluster_helpers import CliOnHome, remove_cluster_resources, unique_cluster_name
from tests.e2e.test_environments import SHAPE_1_0, free_port, with_busybox

ENGINE_CPU = 0.5  # as in 1.0's basic-python-env.yml
WORKER_TYPE_CPUS = 2  # local type "medium"


def worker_cpus(client: docker.DockerClient) -> int:
    """What a medium node gets: its type's CPUs, or all of a smaller host's."""
    return min(WORKER_TYPE_CPUS, int(client.info()["NCPU"]))


def on_controller(client: docker.DockerClient, cluster: str, command: str) -> str:
    (controller,) = client.containers.list(
        filters={"label": [f"clusterous.cluster={cluster}", "clusterous.node=controller"]}
    )
    code, output = controller.exec_run(["sh", "-c", command])
    assert code == 0, output.decode()
    return str(output.decode())


def swarm_cpus(client: docker.DockerClient, cluster: str) -> dict[str, float]:
    """Each node's CPUs as Swarm sees them, by host name."""
    lines = on_controller(
        client,
        cluster,
        "docker node ls -q | xargs docker node inspect "
        "--format '{{.Description.Hostname}} {{.Description.Resources.NanoCPUs}}'",
    )
    pairs = (line.split() for line in lines.splitlines() if line.strip())
    return {host: int(nano) / 1e9 for host, nano in pairs}


def engines_per_node(client: docker.DockerClient, cluster: str) -> Counter[str]:
    lines = on_controller(
        client,
        cluster,
        "docker service ps engine --filter desired-state=running "
        "--format '{{.Node}} {{.CurrentState}}'",
    )
    return Counter(line.split()[0] for line in lines.splitlines() if " Running " in f"{line} ")


def wait_engines(
    client: docker.DockerClient, cluster: str, wanted: dict[str, int], timeout: float = 120
) -> None:
    deadline = time.monotonic() + timeout
    while dict(seen := engines_per_node(client, cluster)) != wanted:
        assert time.monotonic() < deadline, f"engines per node {dict(seen)}, wanted {wanted}"
        time.sleep(1)


@pytest.fixture(scope="module")
def cluster(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CliOnHome, str, Path]]:
    cli = CliOnHome(tmp_path_factory.mktemp("home"))
    work = tmp_path_factory.mktemp("count-auto")
    name = unique_cluster_name("auto")
    env_file = with_busybox(SHAPE_1_0, work / "shape", "8888:", free_port())
    profile = work / "profile.yml"
    profile.write_text(
        f"name: {name}\nenvironment_file: {env_file}\nnode_groups:\n"
        "  master: {type: small, count: 1}\n"
        "  worker: {type: medium, count: 1}\n"
    )
    try:
        # 1.0's --no-run: the profile's environment runs later, in the test.
        created = cli.ok("create", str(profile), "--no-run")
        assert "'create --no-run' is Clusterous 1.0's spelling" in created.stderr
        assert cli.status(name)["services"] == []
        yield cli, name, env_file
    finally:
        cli("destroy", name, "--yes", "--delete-volume")  # stops the run's tunnel too
        remove_cluster_resources(docker_client, name)


def test_swarm_sees_each_local_node_with_its_types_cpus(
    cluster: tuple[CliOnHome, str, Path], docker_client: docker.DockerClient
) -> None:
    _, name, _ = cluster
    cpus = swarm_cpus(docker_client, name)
    assert cpus["master-1"] == 1.0
    assert cpus["worker-1"] == worker_cpus(docker_client)


def test_the_1_0_basic_python_engines_run_node_cpus_over_half_a_cpu_per_worker(
    cluster: tuple[CliOnHome, str, Path], docker_client: docker.DockerClient
) -> None:
    cli, name, env_file = cluster
    per_node = int(worker_cpus(docker_client) / ENGINE_CPU)
    result = cli.ok("run", str(env_file), "--yes", "--cluster", name)
    assert f"engine: {per_node}/{per_node} running" in result.stderr
    wait_engines(docker_client, name, {"worker-1": per_node})
    services = {s["name"]: s for s in cli.status(name)["services"]}
    assert (services["engine"]["desired"], services["engine"]["running"]) == (per_node, per_node)
    assert services["master"]["desired"] == 1


def test_count_auto_is_planned_again_after_add_nodes_and_rm_nodes(
    cluster: tuple[CliOnHome, str, Path], docker_client: docker.DockerClient
) -> None:
    cli, name, _ = cluster
    per_node = int(worker_cpus(docker_client) / ENGINE_CPU)
    grown = cli.ok("add-nodes", "1", "--cluster", name)
    assert f"engine: {per_node} -> {2 * per_node} tasks (count: auto)" in grown.stderr
    wait_engines(docker_client, name, {"worker-1": per_node, "worker-2": per_node})

    shrunk = cli.ok("rm-nodes", "1", "--cluster", name)
    assert f"engine: {2 * per_node} -> {per_node} tasks (count: auto)" in shrunk.stderr
    wait_engines(docker_client, name, {"worker-1": per_node})
    services = {s["name"]: s for s in cli.status(name)["services"]}
    assert services["engine"]["desired"] == per_node
