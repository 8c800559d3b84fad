"""`clusterous stop` and `start` on a real local cluster: /data stays, the app comes back.

One cluster (controller, master-1, worker-1) with a lease, made through the
CLI, runs the offline busybox-web example and gets a file written in /data.
``stop`` stops every node container (with a signal's status, restart policy
off, so neither Docker nor its restart brings them back), status says
"stopped" without reaching for the nodes, and other commands refuse with the
command that starts it. ``start`` brings every node back Ready in Swarm, the
file is still there, the services run again and the app's tunnel answers.
Last, the nodes end the way a lease ends them (systemd exits 0): ``start``
says the cluster has ended and offers destroy. Only 127.0.0.1 and the
cluster's own containers are contacted.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import pytest

from clusterous.environments.tunnels import is_tunnel_process
from tests.e2e.cluster_helpers import (
    CLUSTER_LABEL,
    CliOnHome,
    labelled,
    nodes_by_name,
    remove_cluster_resources,
    unique_cluster_name,
)
from tests.e2e.helpers import exec_in
from tests.e2e.test_environments import EXAMPLE, free_port, http_get, with_busybox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NODES = {"controller", "master-1", "worker-1"}
MARK = "kept across stop and start"


@dataclass(frozen=True)
class Paused:
    name: str
    cli: CliOnHome
    client: docker.DockerClient
    port: int

    def containers(self) -> dict[str, docker.models.containers.Container]:
        found = self.client.containers.list(
            all=True, filters={"label": f"{CLUSTER_LABEL}={self.name}"}
        )
        return {c.labels["clusterous.node"]: c for c in found if "clusterous.node" in c.labels}

    def tunnel_pids(self) -> list[int]:
        ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True)
        return [
            int(line.split()[0])
            for line in ps.stdout.splitlines()
            if "tunnel_process" in line and self.name in line
        ]


@pytest.fixture(scope="module")
def cluster(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Paused]:
    cli = CliOnHome(tmp_path_factory.mktemp("home"))
    port = free_port()
    env_file = with_busybox(EXAMPLE, tmp_path_factory.mktemp("apps") / "web", "8080:", port)
    live = Paused(unique_cluster_name("pause"), cli, docker_client, port)
    try:
        cli.ok("create", "--name", live.name, "--workers", "1", "--max-hours", "2")
        cli.ok("run", str(env_file), "--cluster", live.name)
        yield live
    finally:
        cli("destroy", live.name, "--yes")
        for pid in live.tunnel_pids():
            if is_tunnel_process(pid):
                os.kill(pid, 15)
        remove_cluster_resources(docker_client, live.name)


def test_the_app_answers_and_a_file_is_written_in_data(cluster: Paused) -> None:
    assert "busybox-web" in http_get(cluster.port)[1]
    cluster.cli.ok(
        "ssh", "--cluster", cluster.name, "controller", "--", f"echo '{MARK}' > /data/kept.txt"
    )


def test_stop_stops_every_node_container_and_keeps_them_stopped(cluster: Paused) -> None:
    started = time.monotonic()
    result = cluster.cli.ok("stop", cluster.name)
    print(f"\n  stop of 3 nodes: {time.monotonic() - started:.1f} s")
    assert f"Cluster {cluster.name} is stopped (3 nodes)" in result.stdout
    assert f"clusterous start {cluster.name}" in result.stdout
    containers = cluster.containers()
    assert set(containers) == NODES
    for container in containers.values():
        state = container.attrs["State"]
        assert container.status == "exited" and state["ExitCode"] != 0, state
        assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert cluster.tunnel_pids() == []


def test_status_of_a_stopped_cluster_says_stopped_without_reaching_the_nodes(
    cluster: Paused,
) -> None:
    seen = cluster.cli.ok("status", cluster.name)
    assert f"Cluster {cluster.name} (local" in seen.stdout and "stopped" in seen.stdout
    assert "nothing billable" in seen.stdout and "Stopped: it bills for its disks" in seen.stdout
    assert "unreachable" not in seen.output
    status = json.loads(cluster.cli.ok("status", cluster.name, "--json").stdout)
    assert status["status"] == "stopped" and status["cost"]["per_hour"] == 0
    assert {n["machine"] for n in status["nodes"]} == {"stopped"}


def test_commands_that_need_the_nodes_refuse_a_stopped_cluster_and_stop_again_is_fine(
    cluster: Paused,
) -> None:
    for command in (
        ["ssh", "--cluster", cluster.name, "controller", "--", "true"],
        ["extend", cluster.name],
    ):
        refused = cluster.cli(*command)
        assert refused.returncode == 1, refused.output
        assert f"cluster '{cluster.name}' is stopped" in refused.stderr
        assert f"clusterous start {cluster.name}" in refused.stderr
        assert "Traceback" not in refused.output
    again = cluster.cli.ok("stop", cluster.name)
    assert "already stopped" in again.stdout
    assert {c.status for c in cluster.containers().values()} == {"exited"}


def test_start_brings_back_the_nodes_the_file_the_services_and_the_tunnel(
    cluster: Paused,
) -> None:
    started = time.monotonic()
    result = cluster.cli.ok("start", cluster.name)
    print(
        f"\n  start of 3 nodes (Swarm Ready, services, tunnel): {time.monotonic() - started:.1f} s"
    )
    assert f"Cluster {cluster.name} is running again" in result.stdout
    assert "Its lease ends in 1 h 59 min" in result.stdout or "2 h 00 min" in result.stdout
    status = cluster.cli.status(cluster.name)
    assert status["status"] == "ready"
    nodes = nodes_by_name(status)
    assert {name: (n["state"], n["swarm"]) for name, n in nodes.items()} == {
        name: ("up", "ready") for name in NODES
    }
    services = {s["name"]: (s["running"], s["desired"]) for s in status["services"]}
    assert all(running >= desired > 0 for running, desired in services.values()), services
    assert status["lease"]["seconds_left"] > 3600
    kept = exec_in(cluster.containers()["worker-1"], "cat /data/kept.txt")
    assert kept.stdout.strip() == MARK
    assert "busybox-web" in http_get(cluster.port)[1]
    for container in cluster.containers().values():
        assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"


def test_start_on_a_running_cluster_says_so(cluster: Paused) -> None:
    again = cluster.cli.ok("start", cluster.name)
    assert "is running: nothing to start" in again.stdout


def test_start_after_the_nodes_ended_as_a_lease_ends_them_offers_destroy(
    cluster: Paused, docker_client: docker.DockerClient
) -> None:
    for container in cluster.containers().values():
        container.exec_run(["systemctl", "exit", "0"])  # what clusterous-lease does at the end
    for container in cluster.containers().values():
        assert container.wait(timeout=120)["StatusCode"] == 0
    refused = cluster.cli("start", cluster.name)
    assert refused.returncode == 1, refused.output
    assert "has already ended" in refused.stderr
    assert f"clusterous destroy {cluster.name}" in refused.stderr
    assert "Traceback" not in refused.output
    cluster.cli.ok("destroy", cluster.name, "--yes")
    assert labelled(docker_client, cluster.name) == []
