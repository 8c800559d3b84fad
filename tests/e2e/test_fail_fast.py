"""A node container killed while it boots ends a real create at once: exit 1, the node named.

The real ``clusterous create`` runs as a process (a controller and one master
node); as soon as it waits for the nodes to be Ready in Swarm, the master's
container is killed with ``docker kill``, as a host out of inotify instances
or memory would kill it. The create must fail well before its timeout, name
the node and its machine's state, roll back, and leave nothing that carries
the cluster's label. Only the process and the containers made here are touched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.e2e.cluster_helpers import (
    CliOnHome,
    labelled,
    remove_cluster_resources,
    unique_cluster_name,
)
from tests.e2e.test_interrupts import Watched

TIMEOUT = 300  # the create's --timeout: the failure must come long before it
FAIL_FAST_BOUND = 60.0  # from the kill to the exit: one 10 s check, then the rollback


@pytest.fixture
def cluster(docker_client: docker.DockerClient, node_image: str) -> Iterator[str]:
    name = unique_cluster_name("ff")
    try:
        yield name
    finally:
        remove_cluster_resources(docker_client, name)


def test_a_node_container_killed_while_booting_fails_the_create_at_once_and_leaves_nothing(
    docker_client: docker.DockerClient, cluster: str, tmp_path: Path
) -> None:
    cli = CliOnHome(tmp_path / "home")
    process = cli.popen("create", "--name", cluster, "--workers", "0", "--timeout", str(TIMEOUT))
    try:
        create = Watched(process)
        create.when("waiting for every node to be Ready in Swarm")
        docker_client.containers.get(f"clusterous-{cluster}-master-1").kill()
        killed = time.monotonic()
        code = process.wait(TIMEOUT)
        ended = time.monotonic()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    text = create.text
    assert code == 1, text
    assert ended - killed <= FAIL_FAST_BOUND, f"exit {ended - killed:.0f} s after the kill:\n{text}"
    assert "the machine of node master-1 (" in text and "died while it booted" in text, text
    assert f"clusterous-{cluster}-master-1" in text, text  # its container, in the reason
    assert "docker inspect" in text, text  # where to see why
    assert "everything made so far was removed" in text, text
    assert "Traceback" not in text
    assert labelled(docker_client, cluster) == []
    assert not (cli.home / "clusters" / cluster).exists()
    print(f"kill -> exit {ended - killed:.1f} s\n{text}")
