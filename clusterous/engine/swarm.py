"""Swarm as the cluster manager sees it: nodes, labels, draining, join tokens.

The controller's Docker engine listens on its unix socket only, no TCP port;
the CLI reaches it through its own SSH connection with the pinned host key
(DESIGN section 2), running ``docker system dial-stdio`` on the controller
behind a unix socket of its own, then talks to it with the docker SDK.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clusterous import cancel
from clusterous.errors import ClusterousError
from clusterous.remote.ssh import Session

if TYPE_CHECKING:
    import docker

DIAL_ENGINE = "docker system dial-stdio"
GROUP_LABEL = "clusterous.group"
NODE_LABEL = "clusterous.node"
INSTANCE_LABEL = "clusterous.instance"


@dataclass(frozen=True)
class SwarmNode:
    id: str
    hostname: str
    state: str  # ready, down, unknown
    availability: str  # active, pause, drain
    role: str
    addr: str
    engine_labels: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def instance_id(self) -> str:
        return self.engine_labels.get(INSTANCE_LABEL, "")

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> SwarmNode:
        description = attrs.get("Description", {})
        return cls(
            id=attrs["ID"],
            hostname=description.get("Hostname", ""),
            state=attrs.get("Status", {}).get("State", "unknown"),
            availability=attrs.get("Spec", {}).get("Availability", "active"),
            role=attrs.get("Spec", {}).get("Role", "worker"),
            addr=attrs.get("Status", {}).get("Addr", ""),
            engine_labels=dict(description.get("Engine", {}).get("Labels") or {}),
            labels=dict(attrs.get("Spec", {}).get("Labels") or {}),
        )


def in_sequence(update: Callable[[], None], sleep: Callable[[float], None], tries: int = 5) -> None:
    """Run an update that reads a Swarm object's version and writes at it, again while
    Swarm refuses it as "update out of sequence": the object moved on in between, by
    Swarm's own hand (a node's status while it joins or restarts, a service's update
    status when its last rollout completes)."""
    import docker

    for attempt in range(1, tries + 1):
        try:
            update()
            return
        except docker.errors.APIError as refused:
            if "out of sequence" not in str(refused) or attempt == tries:
                raise
            sleep(0.2)


@contextmanager
def engine_client(controller: Session) -> Iterator[docker.DockerClient]:
    """A docker client for the controller's engine, through the SSH session."""
    import docker

    with controller.command_socket(DIAL_ENGINE) as engine:
        client = docker.DockerClient(base_url=f"unix://{engine.path}", timeout=60)
        one_connection_pool(client)
        try:
            yield client
        finally:
            client.close()


def one_connection_pool(client: docker.DockerClient) -> None:
    """Have every request share one pool of connections, as HTTP to one host does.

    The SDK's unix-socket transport keeps a pool per request URL, so a request
    to a URL not asked before (each node update: ``/nodes/ID/update?version=N``)
    opens a connection of its own. Here a connection is an SSH channel running
    ``docker system dial-stdio`` on the controller: a program started, for
    every node a create labels. The requests themselves are sent by path.
    """
    adapter = client.api.get_adapter("http+docker://")
    by_url = adapter.get_connection

    def shared(url: str, proxies: Any = None) -> Any:
        return by_url("http+docker://localhost", proxies)

    adapter.get_connection = shared


class Swarm:
    def __init__(
        self,
        client: docker.DockerClient,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = cancel.sleep,
    ) -> None:
        self.client = client
        self.clock = clock
        self.sleep = sleep

    def nodes(self) -> list[SwarmNode]:
        return [SwarmNode.from_attrs(n.attrs) for n in self.client.nodes.list()]

    def by_instance(self) -> dict[str, SwarmNode]:
        """Nodes keyed by instance id; a re-joined node's fresh entry wins over a down one."""
        found: dict[str, SwarmNode] = {}
        for node in self.nodes():
            current = found.get(node.instance_id)
            if current is None or (current.state != "ready" and node.state == "ready"):
                found[node.instance_id] = node
        return found

    def worker_join_token(self) -> str:
        return str(self.client.swarm.attrs["JoinTokens"]["Worker"])

    def set_labels(self, node_id: str, labels: dict[str, str]) -> None:
        self._update_spec(
            node_id, lambda spec: {**spec, "Labels": {**(spec.get("Labels") or {}), **labels}}
        )

    def drain(self, node_id: str) -> None:
        self._update_spec(node_id, lambda spec: {**spec, "Availability": "drain"})

    def _update_spec(
        self, node_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> None:
        """Update a node's spec at the version just read (see ``in_sequence``)."""

        def update() -> None:
            node = self.client.nodes.get(node_id)
            node.update(change(dict(node.attrs["Spec"])))

        in_sequence(update, self.sleep)

    def remove(self, node_id: str) -> None:
        import docker

        with suppress(docker.errors.NotFound):
            self.client.api.remove_node(node_id, force=True)

    def running_tasks_on(self, node_id: str) -> list[dict[str, Any]]:
        tasks = self.client.api.tasks(filters={"node": node_id, "desired-state": "running"})
        return [t for t in tasks if t.get("Status", {}).get("State") in ("running", "starting")]

    def wait_ready(
        self,
        instances: dict[str, tuple[str, str]],
        deadline: float,
        on_ready: Callable[[str], None],
        check: Callable[[list[str]], None] | None = None,
        check_every: float = 10.0,
    ) -> None:
        """Wait until each instance id shows Ready; label it with (node name, group).

        ``check`` is called every ``check_every`` seconds with the names still
        waiting, and may raise to end the wait early (a node that failed).
        """
        waiting = dict(instances)
        next_check = self.clock() + check_every
        while waiting:
            seen = self.by_instance()
            for instance_id in list(waiting):
                node = seen.get(instance_id)
                if node is not None and node.state == "ready":
                    name, group = waiting.pop(instance_id)
                    self.set_labels(node.id, {GROUP_LABEL: group, NODE_LABEL: name})
                    on_ready(name)
            if waiting and self.clock() >= deadline:
                names = ", ".join(name for name, _ in waiting.values())
                raise ClusterousError(
                    f"nodes did not join the Swarm in time: {names}",
                    "they never showed Ready in 'docker node ls' on the controller",
                    "raise --timeout, or look at /var/log/clusterous-bootstrap.log on them",
                )
            if waiting and check is not None and self.clock() >= next_check:
                check([name for name, _ in waiting.values()])
                next_check = self.clock() + check_every
            if waiting:
                self.sleep(0.3)

    def wait_drained(self, node_ids: Sequence[str], deadline: float) -> None:
        """Wait until no task runs on the drained nodes (Swarm moves them away)."""
        while any(self.running_tasks_on(node_id) for node_id in node_ids):
            if self.clock() >= deadline:
                raise ClusterousError(
                    "tasks did not leave the drained nodes in time",
                    None,
                    "check 'clusterous status'; the nodes were not removed",
                )
            self.sleep(0.5)
