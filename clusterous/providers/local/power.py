"""Stopping and starting node containers (``clusterous stop`` / ``start``), and their states.

A node container is stopped with ``docker stop``: systemd gets the image's
stop signal and shuts the node down cleanly, and exits with that signal's
status. A stop by the engine is never restarted by the on-failure policy (a
node comes back after an engine restart because of it), but a later restart
of the engine would start a node left with a failure status: so the policy is
off while the cluster is stopped, and back on when it starts. A node whose
lease ended (``clusterous-lease``) exits 0 instead and stays down: that is
how a lease's end is told apart from a stop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from clusterous import cancel
from clusterous.providers.base import Say
from clusterous.providers.local.node_container import RESTART_POLICY
from clusterous.records import NodeRecord

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

STOP_SECONDS = 30  # what docker gives systemd to stop a node cleanly before SIGKILL


def machine_state(container: Container) -> str:
    """A node container's state in EC2's words: one its lease ended (status 0) is terminated."""
    if container.status == "running":
        return "running"
    if container.status == "created":
        return "pending"
    ended = container.status == "exited" and container.attrs["State"].get("ExitCode") == 0
    return "terminated" if ended else "stopped"


def stop_nodes(
    client: docker.DockerClient, names: Callable[[str], str], nodes: Sequence[NodeRecord], say: Say
) -> None:
    """Stop each node's container (``names``: node name -> container name); gone is stopped."""

    def stop(node: NodeRecord) -> None:
        import docker

        try:
            container = client.containers.get(names(node.name))
        except docker.errors.NotFound:
            return
        container.update(restart_policy={"Name": "no"})
        container.stop(timeout=STOP_SECONDS)
        say(f"stopped node {node.name}")

    cancel.in_parallel([partial(stop, node) for node in nodes])


def start_nodes(
    client: docker.DockerClient, names: Callable[[str], str], nodes: Sequence[NodeRecord], say: Say
) -> list[NodeRecord]:
    """Start each node's container; it keeps its address and its published SSH port."""

    def start(node: NodeRecord) -> NodeRecord:
        container = client.containers.get(names(node.name))
        container.update(restart_policy=RESTART_POLICY)
        container.start()
        say(f"started node {node.name}")
        return node

    return cancel.in_parallel([partial(start, node) for node in nodes])
