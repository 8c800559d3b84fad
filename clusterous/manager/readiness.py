"""Readiness of nodes that configure themselves, and the Swarm calls made around it.

Nodes configure themselves from their user-data; the manager does not run the
bootstrap itself. It waits until the controller answers SSH with its pinned
host key and its bootstrap log ends with the ready marker, reads the worker
join token, and later waits for every node to show Ready in Swarm.
``Readiness`` is that collaborator, injected into create and scale: the real
one speaks SSH and the docker SDK; tests against bare moto (whose instances
never boot) inject a fake.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

from clusterous import cancel
from clusterous.engine.swarm import Swarm, engine_client
from clusterous.errors import ClusterousError
from clusterous.manager.access import ClusterAccess
from clusterous.manager.ledger import Ledger
from clusterous.manager.machines import MachineWatch
from clusterous.manager.report import Reporter
from clusterous.records import ClusterState, NodeRecord
from clusterous.remote.ssh import HostKeyMismatch, Session, SSHUnavailable, connect

BOOTSTRAP_LOG = "/var/log/clusterous-bootstrap.log"
LOGIN_RETRY_SECONDS = 0.5  # a node container boots in seconds; an instance in tens
BOOTSTRAP_POLL_SECONDS = 0.5


class ControllerLink(Protocol):
    """What the manager asks of a configured controller."""

    def join_token(self) -> str: ...

    def wait_ready(self, nodes: Sequence[NodeRecord], deadline: float) -> None:
        """Wait for each node to be Ready in Swarm; label it and mark it ready in the ledger."""

    def drain(self, nodes: Sequence[NodeRecord], deadline: float) -> None:
        """Move the tasks off these nodes and wait until none runs there."""

    def forget(self, nodes: Sequence[NodeRecord]) -> None:
        """Remove these nodes from Swarm."""


class Readiness(Protocol):
    def controller(
        self, state: ClusterState, deadline: float
    ) -> AbstractContextManager[ControllerLink]:
        """Wait until the controller is configured; the link lives as long as the context."""


@dataclass
class SwarmLink:
    """A ControllerLink over the controller's Docker engine (through the pinned SSH session)."""

    swarm: Swarm
    ledger: Ledger
    reporter: Reporter
    access: ClusterAccess
    controller_session: Session
    watch: MachineWatch | None = None

    def join_token(self) -> str:
        return self.swarm.worker_join_token()

    def wait_ready(self, nodes: Sequence[NodeRecord], deadline: float) -> None:
        by_instance = {n.instance_id: (n.name, n.group) for n in nodes}
        records = {n.name: n for n in nodes}

        def mark(name: str) -> None:
            self.ledger.record_node(replace(records[name], ready=True))
            self.reporter.node(name, "ready")

        self.swarm.wait_ready(by_instance, deadline, mark, check=self._failed_bootstraps(nodes))

    def _failed_bootstraps(self, nodes: Sequence[NodeRecord]) -> Callable[[list[str]], None]:
        """A check that fails at once when a waiting node's machine died or its bootstrap failed."""
        records = {n.name: n for n in nodes}

        def check(waiting: list[str]) -> None:
            if self.watch is not None:
                self.watch.check([records[n] for n in waiting])
            tails = cancel.in_parallel([partial(self._bootstrap_log, records[n]) for n in waiting])
            logs = dict(zip(waiting, tails, strict=True))
            for name, lines in logs.items():
                if bootstrap_failed(lines):
                    raise ClusterousError(
                        f"node {name} failed to configure itself",
                        "its bootstrap log ends:\n" + "\n".join(lines[-12:]),
                        f"the whole log is {BOOTSTRAP_LOG} on the node "
                        f"('clusterous ssh {name} -- cat {BOOTSTRAP_LOG}')",
                    )

        return check

    def _bootstrap_log(self, node: NodeRecord) -> list[str]:
        """The tail of a node's bootstrap log, or nothing while it cannot be reached yet."""
        try:
            via = None if node.is_controller else self.controller_session
            with connect(
                self.access.endpoint(node), self.access.key_path, self.access.known_hosts, via, 5
            ) as session:
                return session.run(
                    f"tail -n 20 {BOOTSTRAP_LOG} 2>/dev/null", timeout=10
                ).stdout.splitlines()
        except Exception:  # not up yet, or still showing another host key: look again later
            return []

    def drain(self, nodes: Sequence[NodeRecord], deadline: float) -> None:
        seen = self.swarm.by_instance()
        ids = [seen[n.instance_id].id for n in nodes if n.instance_id in seen]
        for node_id in ids:
            self.swarm.drain(node_id)
        self.swarm.wait_drained(ids, deadline)
        cancel.in_parallel([partial(self._leave, node) for node in nodes])

    def _leave(self, node: NodeRecord) -> None:
        """Have a drained node leave Swarm itself, so its gossip peers forget it at once.

        A node that is only removed from the manager stays a suspect in the
        overlay networks' gossip for about 30 s, and a newcomer given its
        address waits that long before running tasks. A node that cannot be
        reached (stopped, say) is simply removed by ``forget``.
        """
        try:
            endpoint = self.access.endpoint(node)
            via = None if node.is_controller else self.controller_session
            with connect(
                endpoint, self.access.key_path, self.access.known_hosts, via, 5
            ) as session:
                session.run("docker swarm leave", timeout=30)
        except Exception as problem:  # best effort: forget() removes it either way
            self.reporter.detail(f"{node.name} did not leave Swarm by itself: {problem}")

    def forget(self, nodes: Sequence[NodeRecord]) -> None:
        seen = self.swarm.by_instance()
        for node in nodes:
            if node.instance_id in seen:
                self.swarm.remove(seen[node.instance_id].id)


class SwarmReadiness:
    """The real Readiness: SSH with the pinned host key, the bootstrap's log, then Swarm."""

    def __init__(
        self,
        access: ClusterAccess,
        ledger: Ledger,
        reporter: Reporter,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = cancel.sleep,
        watch: MachineWatch | None = None,
    ) -> None:
        self.access = access
        self.watch = watch
        self.ledger = ledger
        self.reporter = reporter
        self.clock = clock
        self.sleep = sleep

    @contextmanager
    def controller(self, state: ClusterState, deadline: float) -> Iterator[ControllerLink]:
        alive = self._machine_check(state)
        session = self._wait_for_login(state, deadline, alive)
        with session:
            self._wait_for_bootstrap(session, deadline, alive)
            with engine_client(session) as client:
                swarm = Swarm(client, clock=self.clock)
                yield SwarmLink(swarm, self.ledger, self.reporter, self.access, session, self.watch)

    def _machine_check(self, state: ClusterState) -> Callable[[], None]:
        """Every so often, fail when the controller's machine died (no watch: never)."""
        controller = state.controller
        if self.watch is None or controller is None:
            return lambda: None
        return self.watch.every_so_often([controller])

    def _wait_for_login(
        self, state: ClusterState, deadline: float, alive: Callable[[], None] = lambda: None
    ) -> Session:
        """Until the bootstrap installs the pinned host key, the node presents another: retry."""
        endpoint = self.access.controller_endpoint(state)
        self.reporter.node("controller", "waiting for SSH")
        while True:
            budget = max(0.5, min(5.0, deadline - self.clock()))
            try:
                return connect(
                    endpoint, self.access.key_path, self.access.known_hosts, None, budget
                )
            except (SSHUnavailable, HostKeyMismatch) as problem:
                if self.clock() >= deadline:
                    raise SSHUnavailable(
                        "the controller did not accept SSH with its pinned host key in time",
                        problem.why,
                        "raise --timeout; the bootstrap log is /var/log/clusterous-bootstrap.log "
                        "on the controller (EC2 console: 'Get system log')",
                    ) from problem
                alive()
                self.sleep(LOGIN_RETRY_SECONDS)

    def _wait_for_bootstrap(
        self, session: Session, deadline: float, alive: Callable[[], None] = lambda: None
    ) -> None:
        from clusterous.node import BOOTSTRAP_READY_MARKER

        self.reporter.node("controller", "configuring itself")
        while True:
            tail = session.run(f"tail -n 20 {BOOTSTRAP_LOG} 2>/dev/null", timeout=30).stdout
            lines = tail.strip().splitlines()
            if lines and lines[-1].strip() == BOOTSTRAP_READY_MARKER:
                self.reporter.node("controller", "configured")
                return
            if bootstrap_failed(lines):
                raise ClusterousError("the controller's bootstrap failed", "\n".join(lines[-12:]))
            if self.clock() >= deadline:
                raise ClusterousError(
                    "the controller did not finish configuring itself in time",
                    "\n".join(lines[-5:]) or "its bootstrap log is empty",
                    "raise --timeout",
                )
            alive()
            self.sleep(BOOTSTRAP_POLL_SECONDS)


def bootstrap_failed(lines: Sequence[str]) -> bool:
    from clusterous.node import BOOTSTRAP_ERROR_PREFIX

    return any(BOOTSTRAP_ERROR_PREFIX in line for line in lines)
