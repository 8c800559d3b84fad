"""Local nodes survive a restart of the Docker engine, as EC2 instances survive a host's.

Issue 8: systemd brings back each node's dockerd, the registry and Swarm
membership, and services are rescheduled. A node container has the restart
policy on-failure: an engine that stops stops its containers, and systemd
stopped that way exits 130 (killed by SIGINT, the kernel's way of halting a
container's PID namespace), so the engine starts it again when it comes back;
a node whose lease ended exits 0 by itself (``systemctl exit 0``) and stays down.

This test really restarts the engine (tests/e2e/engine.py): every container on
it stops, so it runs last in the suite (tests/conftest.py orders the
``engine_restart`` marker last, and the file name sorts last), only when CI
started the engine (CI=true) or with CLUSTEROUS_TEST_ENGINE_RESTART=1, and
only on an engine it can restart the way it was started. What a user does
after an engine restart is what this test does: nothing for the cluster, and
``clusterous tunnel`` re-opens a tunnel that gave up while the engine was down.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import docker
import pytest

from tests.e2e.cluster_helpers import labelled
from tests.e2e.engine import Engine, find_engine, may_restart
from tests.e2e.restart_helpers import (
    NODES,
    RestartCluster,
    busybox_cluster,
    new_task_on,
    services_back,
    swarm_ready,
    tunnel_answers,
    worker_tasks_on_both_workers,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.engine_restart]


@pytest.fixture(scope="module")
def engine() -> Engine:
    if not may_restart(os.environ):
        pytest.skip(
            "restarts the Docker engine, which stops every container on it: runs when CI=true "
            "(CI started the engine) or with CLUSTEROUS_TEST_ENGINE_RESTART=1"
        )
    found = find_engine()
    if isinstance(found, str):
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"cannot restart the Docker engine the way it was started: {found}\n"
                "  -> start it with `make docker` (scripts/ensure-docker.sh) or systemd",
                pytrace=False,
            )
        pytest.skip(f"cannot restart the Docker engine the way it was started: {found}")
    return found


@pytest.fixture(scope="module")
def cluster(
    engine: Engine,
    docker_client: docker.DockerClient,
    node_image: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RestartCluster]:
    with busybox_cluster(docker_client, tmp_path_factory, "engine") as live:
        yield live


def containers_running(cluster: RestartCluster) -> Callable[[], tuple[bool, object]]:
    """Every node container running again (the engine restarted them by their policy)."""

    def check() -> tuple[bool, object]:
        try:
            seen = {node: cluster.container(node).status for node in NODES}
        except (docker.errors.DockerException, OSError) as problem:  # the engine is starting
            return False, f"{type(problem).__name__}: {problem}"
        return set(seen.values()) == {"running"}, seen

    return check


def test_the_cluster_runs_busybox_web_before_the_engine_restarts(cluster: RestartCluster) -> None:
    cluster.wait("every node up and Ready in Swarm", swarm_ready(cluster, NODES))
    cluster.wait("the busybox-web page through its tunnel", tunnel_answers(cluster))
    worker_tasks_on_both_workers(cluster)


def test_after_an_engine_restart_nodes_swarm_services_and_tunnel_come_back(
    cluster: RestartCluster, engine: Engine
) -> None:
    before = worker_tasks_on_both_workers(cluster)
    ssh_port = cluster.ssh_port()
    addresses = {node: cluster.address(node) for node in NODES}

    started = cluster.clock.now()
    engine.restart(cluster.clock)
    print(f"\n  restart of {engine.describe()}: {cluster.clock.now() - started:.1f} s")

    cluster.wait("every node container running again", containers_running(cluster))
    cluster.wait("every node Ready in Swarm again", swarm_ready(cluster, NODES))
    for node in NODES:
        cluster.wait(
            f"dockerd, /etc/hosts and the registry back on {node}", services_back(cluster, node)
        )
    for node in ("worker-1", "worker-2"):
        cluster.wait(
            f"a new task of the count:auto service running on {node}",
            new_task_on(cluster, "worker", node, before),
        )
    cluster.cli.ok("tunnel", "--cluster", cluster.name)  # re-opens a tunnel that gave up
    cluster.wait("the busybox-web page through its tunnel", tunnel_answers(cluster))
    assert cluster.ssh_port() == ssh_port
    assert {node: cluster.address(node) for node in NODES} == addresses
    said = cluster.cli.ok("ssh", "--cluster", cluster.name, "worker-2", "--", "hostname")
    assert said.stdout.strip() == "worker-2"


def test_destroy_after_the_engine_restart_leaves_nothing(
    cluster: RestartCluster, docker_client: docker.DockerClient
) -> None:
    cluster.cli.ok("destroy", cluster.name, "--yes")
    assert labelled(docker_client, cluster.name) == []
    assert cluster.tunnel_pids() == []
