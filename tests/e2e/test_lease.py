"""The lease and idle stop on real local clusters: nodes end themselves, with no command.

Three clusters are made at once, each with one master and one worker:
- ``lease``: a lease of about two minutes and nothing else; every node
  container stops by itself (status 0, and stays stopped), status says the
  lease ended it, extend says it cannot and names destroy, destroy sweeps it;
- ``kept``: the same lease plus idle stop, extended right after create and
  running the busybox-web example: it outlives the first cluster's lease and
  its own idle minutes;
- ``idle``: no lease, idle stop after one minute, never touched again: it
  ends by itself.
The waits poll the engine for the containers' state with a deadline; the
times are the node's own timers (every 15 s) and the leases themselves.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from clusterous.environments.tunnels import is_tunnel_process
from tests.e2e.cluster_helpers import (
    CLUSTER_LABEL,
    CliOnHome,
    labelled,
    remove_cluster_resources,
    unique_cluster_name,
)
from tests.e2e.test_environments import EXAMPLE, free_port, with_busybox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LEASE_HOURS = "0.04"  # 144 s: a create on a busy machine must fit in it
WAIT = 420.0  # bound on the lease (counted from the end of create) plus the timers


@dataclass
class Leases:
    cli: CliOnHome
    lease: str
    kept: str
    idle: str
    env_file: Path
    created_at: float = 0.0

    @property
    def names(self) -> tuple[str, str, str]:
        return (self.lease, self.kept, self.idle)


def tunnel_pids(cluster: str) -> list[int]:
    """The CLI's tunnel processes of this cluster (started by this test's run)."""
    ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [
        int(line.split()[0])
        for line in ps.splitlines()
        if "tunnel_process" in line and cluster in line
    ]


def states(client: docker.DockerClient, cluster: str) -> dict[str, tuple[str, int]]:
    """Each node container's status and exit code."""
    selector = {"label": f"{CLUSTER_LABEL}={cluster}"}
    return {
        c.name: (c.status, c.attrs["State"]["ExitCode"])
        for c in client.containers.list(all=True, filters=selector)
    }


def wait_until_ended(client: docker.DockerClient, cluster: str, deadline: float) -> None:
    while any(status != "exited" for status, _ in states(client, cluster).values()):
        assert time.monotonic() < deadline, f"{cluster} still runs: {states(client, cluster)}"
        time.sleep(2)


@pytest.fixture(scope="module")
def leases(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Leases]:
    cli = CliOnHome(tmp_path_factory.mktemp("home"))
    env_file = with_busybox(EXAMPLE, tmp_path_factory.mktemp("apps") / "web", "8080:", free_port())
    live = Leases(
        cli,
        unique_cluster_name("lease"),
        unique_cluster_name("kept"),
        unique_cluster_name("idle"),
        env_file,
    )
    try:
        creates = [
            cli.popen("create", "--name", live.lease, "--workers", "1", "--max-hours", LEASE_HOURS),
            cli.popen(
                "create",
                "--name",
                live.kept,
                "--workers",
                "1",
                "--max-hours",
                LEASE_HOURS,
                "--idle-minutes",
                "1",
            ),
            cli.popen(
                "create",
                "--name",
                live.idle,
                "--workers",
                "1",
                "--max-hours",
                "0",
                "--idle-minutes",
                "1",
            ),
        ]
        for process in creates:
            out, _ = process.communicate(timeout=600)
            assert process.returncode == 0, out
        live.created_at = time.monotonic()
        yield live
    finally:
        for pid in tunnel_pids(live.kept):
            if is_tunnel_process(pid):
                os.kill(pid, 15)
        for name in live.names:
            remove_cluster_resources(docker_client, name)


def test_create_shows_the_lease_and_warns_about_max_hours_zero(leases: Leases) -> None:
    status = leases.cli.status(leases.lease)
    lease = status["lease"]
    assert lease["max_hours"] == 0.04 and lease["source"] == "controller"
    assert 0 < lease["seconds_left"] <= 0.04 * 3600
    idle = leases.cli.status(leases.idle)["lease"]
    assert idle["max_hours"] == 0 and 0 < idle["idle_fires_in"] <= 60


def test_an_extend_before_the_end_and_a_running_service_keep_a_cluster(leases: Leases) -> None:
    result = leases.cli.ok("extend", leases.kept, "1")
    assert "now ends in 1 h 00 min" in result.stdout
    leases.cli.ok("run", str(leases.env_file), "--cluster", leases.kept)


def test_idle_stop_ends_every_node_of_an_idle_cluster_without_any_command(
    leases: Leases, docker_client: docker.DockerClient
) -> None:
    wait_until_ended(docker_client, leases.idle, time.monotonic() + WAIT)
    assert {code for _, code in states(docker_client, leases.idle).values()} == {0}


def test_the_lease_ends_every_node_container_without_any_command(
    leases: Leases, docker_client: docker.DockerClient
) -> None:
    wait_until_ended(docker_client, leases.lease, leases.created_at + WAIT)
    ended = states(docker_client, leases.lease)
    assert len(ended) == 3 and {code for _, code in ended.values()} == {0}, ended


def test_the_extended_busy_cluster_outlives_both_its_lease_and_its_idle_minutes(
    leases: Leases, docker_client: docker.DockerClient
) -> None:
    assert time.monotonic() - leases.created_at > 0.04 * 3600
    running = states(docker_client, leases.kept)
    assert len(running) == 3 and {s for s, _ in running.values()} == {"running"}, running
    services = {s["name"]: s["running"] for s in leases.cli.status(leases.kept)["services"]}
    assert set(services) == {"master", "worker"} and min(services.values()) >= 1, services


def test_an_ended_cluster_says_so_and_destroy_sweeps_it(
    leases: Leases, docker_client: docker.DockerClient
) -> None:
    status = leases.cli("status", leases.lease)
    assert "its lease (or idle stop) ended them" in status.stderr
    assert f"clusterous destroy {leases.lease}" in status.stderr
    extend = leases.cli("extend", leases.lease)
    assert extend.returncode == 1, extend.output
    assert "has already ended" in extend.stderr and "clusterous destroy" in extend.stderr
    assert "Traceback" not in extend.output
    for name in leases.names:
        leases.cli.ok("destroy", name, "--yes")
        assert labelled(docker_client, name) == []
