"""Local nodes survive restarts of their containers, as EC2 instances survive a reboot.

DESIGN section 3: a node's services are systemd units its user-data enabled,
so they come back by themselves when the node restarts; the node keeps its
address, and the controller keeps its published SSH port. One cluster
(controller, master-1, worker-1, worker-2) made through the CLI runs the
offline busybox-web example; then one worker is restarted, and then every
node at once. Each time the test waits (bounded, on an injected clock) for
what must come back, and prints how long each part took. Only 127.0.0.1 and
the cluster's own containers are contacted. A restart of the whole Docker
engine is test_zz_engine_restart's.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest

from tests.e2e.cluster_helpers import labelled
from tests.e2e.restart_helpers import (
    NODES,
    STOP_TIMEOUT,
    RestartCluster,
    busybox_cluster,
    new_task_on,
    services_back,
    swarm_ready,
    tunnel_answers,
    worker_tasks_on_both_workers,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestartCluster]:
    with busybox_cluster(docker_client, tmp_path_factory, "restart") as live:
        yield live


def restart(cluster: RestartCluster, nodes: tuple[str, ...]) -> None:
    started = cluster.clock.now()
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        list(pool.map(lambda n: cluster.container(n).restart(timeout=STOP_TIMEOUT), nodes))
    print(f"\n  docker restart of {', '.join(nodes)}: {cluster.clock.now() - started:.1f} s")


# --- the tests, in order, on one cluster -----------------------------------------------


def test_the_cluster_runs_busybox_web_before_any_restart(cluster: RestartCluster) -> None:
    cluster.wait("every node up and Ready in Swarm", swarm_ready(cluster, NODES))
    cluster.wait("the busybox-web page through its tunnel", tunnel_answers(cluster))
    worker_tasks_on_both_workers(cluster)


def test_a_restarted_worker_comes_back_ready_with_its_services_and_tasks(
    cluster: RestartCluster,
) -> None:
    before = worker_tasks_on_both_workers(cluster)
    address = cluster.address("worker-1")

    restart(cluster, ("worker-1",))

    cluster.wait(
        "dockerd, /etc/hosts and the registry back on worker-1", services_back(cluster, "worker-1")
    )
    cluster.wait("worker-1 Ready in Swarm again", swarm_ready(cluster, NODES))
    cluster.wait(
        "a new task of the count:auto service running on worker-1",
        new_task_on(cluster, "worker", "worker-1", before),
    )
    cluster.wait("the busybox-web page through its tunnel", tunnel_answers(cluster))
    assert cluster.address("worker-1") == address


def test_after_every_node_restarts_at_once_the_cluster_and_the_cli_work_again(
    cluster: RestartCluster,
) -> None:
    before = worker_tasks_on_both_workers(cluster)
    ssh_port = cluster.ssh_port()
    addresses = {node: cluster.address(node) for node in NODES}

    restart(cluster, NODES)

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
    cluster.wait("the busybox-web page through its tunnel", tunnel_answers(cluster))
    assert cluster.ssh_port() == ssh_port
    assert {node: cluster.address(node) for node in NODES} == addresses
    said = cluster.cli.ok("ssh", "--cluster", cluster.name, "worker-2", "--", "hostname")
    assert said.stdout.strip() == "worker-2"
    added = cluster.cli.ok("add-nodes", "1", "--cluster", cluster.name)
    assert "worker-3" in added.stdout
    cluster.wait("worker-3 up and Ready in Swarm", swarm_ready(cluster, (*NODES, "worker-3")))


def test_destroy_after_the_restarts_leaves_nothing(
    cluster: RestartCluster, docker_client: docker.DockerClient
) -> None:
    cluster.cli.ok("destroy", cluster.name, "--yes")
    assert labelled(docker_client, cluster.name) == []
    assert cluster.tunnel_pids() == []
