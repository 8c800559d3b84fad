"""A real multi-node cluster on the local Docker engine, driven through the CLI.

One cluster (controller, one master, two workers) is created for the module and
the tests run in order against it: shared volume, pinned SSH, scaling with a
real Swarm service, a killed worker, taking the cluster over after the local
files are lost, bad input, and finally destroy, which must leave nothing that
carries the cluster's label.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from clusterous.providers.local.node_container import RUNNING_CPU_SHARES, WAITING_CPU_SHARES
from tests.e2e.cluster_helpers import (
    CliOnHome,
    labelled,
    nodes_by_name,
    remove_cluster_resources,
    unique_cluster_name,
)


@dataclass(frozen=True)
class LiveCluster:
    name: str
    cli: CliOnHome

    @property
    def shared_dir(self) -> Path:
        return self.cli.home / "volumes" / self.name

    def container(
        self, client: docker.DockerClient, node: str
    ) -> docker.models.containers.Container:
        return client.containers.get(f"clusterous-{self.name}-{node}")

    def on(self, node: str, script: str) -> str:
        return self.cli.ok(
            "ssh", "--cluster", self.name, node, "--", "sh", "-c", f"'{script}'"
        ).stdout


@pytest.fixture(scope="module")
def live_cluster(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveCluster]:
    cli = CliOnHome(tmp_path_factory.mktemp("home"))
    cluster = LiveCluster(unique_cluster_name(), cli)
    try:
        yield cluster
    finally:
        remove_cluster_resources(docker_client, cluster.name)


@pytest.fixture
def cluster(live_cluster: LiveCluster, monkeypatch: pytest.MonkeyPatch) -> LiveCluster:
    monkeypatch.setenv("CLUSTEROUS_HOME", str(live_cluster.cli.home))
    return live_cluster


def test_create_brings_a_controller_a_master_and_two_workers_to_ready(
    cluster: LiveCluster, docker_client: docker.DockerClient
) -> None:
    first_weights: dict[str, int] = {}
    creating = threading.Event()

    def watch_weights() -> None:
        """Each node container's CPU weight when first seen (created ahead of its launch)."""
        watcher_client = docker.from_env()
        selector = {"label": f"clusterous.cluster={cluster.name}"}
        while creating.is_set():
            for container in watcher_client.containers.list(all=True, filters=selector):
                node = container.labels.get("clusterous.node")
                if node and node not in first_weights:
                    first_weights[node] = container.attrs["HostConfig"]["CpuShares"]
            time.sleep(0.05)

    creating.set()
    watcher = threading.Thread(target=watch_weights, daemon=True)
    watcher.start()
    try:
        result = cluster.cli.ok("create", "--name", cluster.name, "--workers", "2")
    finally:
        creating.clear()
        watcher.join()
    assert f"Cluster {cluster.name} is ready with 4 nodes" in result.stdout
    # Nodes started ahead wait at a low CPU weight, leaving the CPU to the controller;
    # their launch gives them the engine's default, which the controller had from the start.
    assert first_weights == {
        "controller": 0,
        "master-1": WAITING_CPU_SHARES,
        "worker-1": WAITING_CPU_SHARES,
        "worker-2": WAITING_CPU_SHARES,
    }
    now = {
        n: cluster.container(docker_client, n).attrs["HostConfig"]["CpuShares"]
        for n in first_weights
    }
    assert now == {
        "controller": 0,
        **dict.fromkeys(["master-1", "worker-1", "worker-2"], RUNNING_CPU_SHARES),
    }

    nodes = nodes_by_name(cluster.cli.status(cluster.name))
    assert sorted(nodes) == ["controller", "master-1", "worker-1", "worker-2"]
    assert {n["state"] for n in nodes.values()} == {"up"}
    assert {n["swarm"] for n in nodes.values()} == {"ready"}
    assert nodes["master-1"]["group"] == "master"
    assert nodes["worker-2"]["group"] == "worker"


def test_status_says_a_local_cluster_costs_nothing_and_leaves_that_for_the_dashboard(
    cluster: LiveCluster,
) -> None:
    cost = cluster.cli.status(cluster.name)["cost"]
    assert (cost["per_hour"], cost["so_far"]) == (0.0, 0.0)
    assert [line["source"] for line in cost["lines"]] == ["local provider"]
    human = cluster.cli.ok("status", cluster.name).stdout
    assert "Cost: runs on your own machine: nothing billable (local provider)" in human
    written = json.loads(cluster.on("controller", "cat /etc/clusterous/cost.json"))
    assert (written["total"], written["per_hour"], written["currency"]) == (0.0, 0.0, "USD")


def test_the_swarm_labels_every_node_with_its_group(cluster: LiveCluster) -> None:
    out = cluster.on(
        "controller",
        "docker node ls -q | xargs docker node inspect "
        '--format "{{.Description.Hostname}}={{index .Spec.Labels \\"clusterous.group\\"}}"',
    )
    labels = dict(line.split("=") for line in out.split())
    assert labels == {
        "controller": "controller",
        "master-1": "master",
        "worker-1": "worker",
        "worker-2": "worker",
    }


def test_no_node_sets_up_the_routing_mesh(cluster: LiveCluster) -> None:
    """The controller removes Swarm's ingress network before anyone joins (bootstrap.sh)."""
    for node in ("controller", "worker-1"):
        networks = cluster.on(node, "docker network ls --format {{.Name}}").split()
        assert "ingress" not in networks, node
    log = cluster.on("controller", "cat /var/log/clusterous-bootstrap.log")
    assert "swarm: removed the ingress network" in log


def test_a_file_written_to_data_on_one_node_is_seen_on_the_others(cluster: LiveCluster) -> None:
    cluster.on("worker-1", "echo written-by-worker-1 > /data/shared-check")
    assert cluster.on("master-1", "cat /data/shared-check").strip() == "written-by-worker-1"
    assert cluster.on("worker-2", "cat /home/data/shared-check").strip() == "written-by-worker-1"
    assert (cluster.shared_dir / "shared-check").read_text().strip() == "written-by-worker-1"


def test_ssh_refuses_a_node_whose_host_key_is_not_the_pinned_one(cluster: LiveCluster) -> None:
    known_hosts = cluster.cli.home / "clusters" / cluster.name / "known_hosts"
    original = known_hosts.read_text()
    alias = f"clusterous-{cluster.name}-worker-1"
    other_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBdlsvEBxlwR8iXyaEVNHj5A4KLDPdRo1IXyWS3R3+Fk"
    forged = [
        f"{alias} {other_key}" if line.startswith(alias + " ") else line
        for line in original.splitlines()
    ]
    known_hosts.write_text("\n".join(forged) + "\n")
    try:
        result = cluster.cli("ssh", "--cluster", cluster.name, "worker-1", "--", "true")
        assert result.returncode != 0
        assert "verification failed" in result.output.lower() or "host key" in result.output.lower()
    finally:
        known_hosts.write_text(original)
    cluster.cli.ok("ssh", "--cluster", cluster.name, "worker-1", "--", "true")


def _push_test_image(cluster: LiveCluster) -> None:
    """A 2 MB busybox image, built on the controller and pushed to the cluster registry."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.fail("busybox is needed on the host (Debian: apt-get install busybox-static)")
    context = cluster.shared_dir / "bb"
    context.mkdir()
    shutil.copy(busybox, context / "busybox")
    (context / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    cluster.on(
        "controller",
        "cd /data/bb && docker build -q -t registry:5000/bb . && docker push -q registry:5000/bb",
    )


def _running_tasks(cluster: LiveCluster, service: str) -> list[str]:
    out = cluster.on(
        "controller",
        f"docker service ps {service} --filter desired-state=running "
        '--format "{{.Node}} {{.CurrentState}}"',
    )
    return [line.split()[0] for line in out.splitlines() if " Running " in f" {line} "]


def _wait_for_tasks(
    cluster: LiveCluster, service: str, count: int, timeout: float = 60
) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        nodes = _running_tasks(cluster, service)
        if len(nodes) == count or time.monotonic() > deadline:
            return nodes
        time.sleep(1)


def test_add_nodes_then_rm_nodes_moves_the_removed_nodes_tasks(
    cluster: LiveCluster, docker_client: docker.DockerClient
) -> None:
    added = cluster.cli.ok("add-nodes", "1", "--cluster", cluster.name)
    assert "worker-3" in added.stdout
    nodes = nodes_by_name(cluster.cli.status(cluster.name))
    assert nodes["worker-3"]["state"] == "up"

    _push_test_image(cluster)
    cluster.on(
        "controller",
        "docker service create -d -q --name sleeper --replicas 3 "
        "--constraint node.labels.clusterous.group==worker registry:5000/bb sleep 100000",
    )
    assert sorted(_wait_for_tasks(cluster, "sleeper", 3)) == ["worker-1", "worker-2", "worker-3"]

    removed = cluster.cli.ok("rm-nodes", "1", "--cluster", cluster.name)
    assert "worker-3" in removed.stdout
    after = _wait_for_tasks(cluster, "sleeper", 3)
    assert len(after) == 3 and "worker-3" not in after
    assert "worker-3" not in nodes_by_name(cluster.cli.status(cluster.name))
    swarm_nodes = cluster.on("controller", "docker node ls --format {{.Hostname}}").split()
    assert "worker-3" not in swarm_nodes
    with pytest.raises(docker.errors.NotFound):
        cluster.container(docker_client, "worker-3")


def test_a_killed_worker_is_reported_down(
    cluster: LiveCluster, docker_client: docker.DockerClient
) -> None:
    cluster.container(docker_client, "worker-2").kill()
    nodes = nodes_by_name(cluster.cli.status(cluster.name))
    assert nodes["worker-2"]["state"] == "down"
    assert nodes["worker-1"]["state"] == "up"
    human = cluster.cli.ok("status", cluster.name).stdout
    assert "worker-2" in human and "down" in human


def test_workon_rebuilds_the_local_files_from_the_cluster(cluster: LiveCluster) -> None:
    local = cluster.cli.home / "clusters" / cluster.name
    shutil.rmtree(local)
    assert cluster.cli("status", cluster.name).returncode == 2

    listed = cluster.cli.ok("ls-clusters").stdout
    assert cluster.name in listed and "not on this machine" in listed
    cluster.cli.ok("workon", cluster.name)
    assert cluster.on("controller", "hostname").strip() == "controller"
    assert cluster.on("worker-1", "cat /data/shared-check").strip() == "written-by-worker-1"
    assert nodes_by_name(cluster.cli.status(cluster.name))["worker-1"]["state"] == "up"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add-nodes", "0"), "at least 1"),
        (("rm-nodes", "9"), "has only"),
        (("add-nodes", "1", "nosuchgroup"), "no node group 'nosuchgroup'"),
        (("ssh", "nosuchnode", "--", "true"), "no node named 'nosuchnode'"),
    ],
)
def test_bad_requests_on_a_cluster_are_refused_with_exit_2(
    cluster: LiveCluster, docker_client: docker.DockerClient, args: tuple[str, ...], message: str
) -> None:
    before = labelled(docker_client, cluster.name)
    result = cluster.cli(
        *args[:1], *(("--cluster", cluster.name) if args[0] != "ssh" else ()), *args[1:]
    )
    assert result.returncode == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert labelled(docker_client, cluster.name) == before


def test_a_second_create_with_the_same_name_is_refused(
    cluster: LiveCluster, docker_client: docker.DockerClient
) -> None:
    before = labelled(docker_client, cluster.name)
    result = cluster.cli("create", "--name", cluster.name)
    assert result.returncode == 2
    assert f"a cluster named '{cluster.name}' already exists" in result.stderr
    assert labelled(docker_client, cluster.name) == before


def test_destroy_leaves_nothing_with_the_clusters_label(
    cluster: LiveCluster, docker_client: docker.DockerClient
) -> None:
    result = cluster.cli.ok("destroy", cluster.name, "--yes", "--delete-volume")
    assert "nothing of it is left" in result.stdout
    assert labelled(docker_client, cluster.name) == []
    assert not cluster.shared_dir.exists()
    assert not (cluster.cli.home / "clusters" / cluster.name).exists()

    again = cluster.cli.ok("destroy", cluster.name, "--yes")
    assert "Nothing to destroy" in again.stdout


def test_sigint_during_create_rolls_back_and_destroy_leaves_nothing(
    docker_client: docker.DockerClient, node_image: str, tmp_path: Path
) -> None:
    cli = CliOnHome(tmp_path / "home")
    name = unique_cluster_name("sigint")
    try:
        process = cli.popen("create", "--name", name, "--workers", "2")
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if "configuring" in line:
                break
        assert labelled(docker_client, name), "the create never started making nodes"
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=120)
        output = "".join(seen) + rest
        assert process.returncode == 130, output
        assert "interrupted" in output.lower()
        assert "Traceback" not in output

        cli.ok("destroy", name, "--yes")
        assert labelled(docker_client, name) == []
        assert not (cli.home / "volumes" / name).exists()
    finally:
        remove_cluster_resources(docker_client, name)


def test_dry_run_shows_groups_network_and_volume_and_creates_nothing(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    cli = CliOnHome(tmp_path / "home")
    name = unique_cluster_name("dry")
    result = cli.ok("create", "--name", name, "--workers", "3", "--dry-run")
    assert "Dry run: nothing was created." in result.stdout
    assert f"network: Docker bridge network clusterous-{name}" in result.stdout
    assert "shared volume:" in result.stdout and "mounted at /data" in result.stdout
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if "│" in line}
    assert rows["worker"][2:5] == ["small", "│", "3"]
    assert labelled(docker_client, name) == []
    assert not (cli.home / "clusters" / name).exists()
