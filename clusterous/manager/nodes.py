"""Bringing launched nodes into the cluster: bootstrap over SSH, then Swarm readiness.

Used by create and by add-nodes. The controller is bootstrapped first (Swarm
init, registry); its worker join token is rendered into every other node's
bootstrap, and the nodes are configured in parallel, so adding ten nodes takes
about as long as adding one. A node is ready when it shows Ready in the
controller's Swarm under its instance id; it is then labelled with its group.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from clusterous.engine.swarm import Swarm
from clusterous.errors import ClusterousError
from clusterous.home import atomic_write
from clusterous.manager.access import ClusterAccess
from clusterous.manager.ledger import ClusterState, Ledger, NodeRecord, ResourceRecord
from clusterous.manager.report import Reporter
from clusterous.providers.base import NodeRequest, Provider
from clusterous.remote.keys import KeyPair, generate_ed25519
from clusterous.remote.ssh import Session, wait_for_ssh

if TYPE_CHECKING:
    from clusterous.manager.plan import NodePlan
    from clusterous.node import BootstrapParams


def node_requests(
    access: ClusterAccess, nodes: Sequence[tuple[str, str, str]], login_public_key: str
) -> list[NodeRequest]:
    """Requests for (name, group, type) triples, each with a freshly pinned host key."""
    return [
        NodeRequest(
            name=name,
            group=group,
            instance_type=itype,
            role="controller" if group == "controller" else "node",
            host_key=access.new_host_key(name),
            authorized_key=login_public_key,
        )
        for name, group, itype in nodes
    ]


class LedgerRecorder:
    """The ledger as a Recorder that also writes a launch's nodes in one update."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def record_resource(self, resource: ResourceRecord) -> None:
        self.ledger.record_resource(resource)

    def record_node(self, node: NodeRecord) -> None:
        self.ledger.record_node(node)

    def record_nodes(self, nodes: Sequence[NodeRecord]) -> None:
        names = {n.name for n in nodes}

        def put(state: ClusterState) -> None:
            state.nodes = [n for n in state.nodes if n.name not in names] + list(nodes)

        self.ledger.update(put)


def user_data_requests(
    state: ClusterState,
    provider: Provider,
    access: ClusterAccess,
    nodes: Sequence[NodePlan],
    login_public_key: str,
    join_token: str,
) -> list[NodeRequest]:
    """Requests for providers that deliver the bootstrap as user-data, one launch per group.

    The nodes of one group are launched together with one user-data, so they
    share one host key, pinned under each node's alias; the bootstrap finds each
    node's own name and instance id at boot.
    """
    requests: list[NodeRequest] = []
    grouped: dict[str, list[NodePlan]] = {}
    for node in nodes:
        grouped.setdefault(node.group, []).append(node)
    for group, members in grouped.items():
        host_key = generate_ed25519(access.alias(group))
        for member in members:
            access.known_hosts.add(access.alias(member.name), host_key.public_openssh)
        params = _user_data_params(state, provider, members[0], join_token, host_key)
        params = replace(params, authorized_key=login_public_key)
        requests += [
            NodeRequest(
                name=m.name,
                group=group,
                instance_type=m.instance_type,
                role="controller" if group == "controller" else "node",
                host_key=host_key,
                authorized_key=login_public_key,
                bootstrap=params,
                spot=m.spot,
                spot_fallback=m.spot_fallback,
            )
            for m in members
        ]
    return requests


def _user_data_params(
    state: ClusterState, provider: Provider, first: NodePlan, join_token: str, host_key: KeyPair
) -> BootstrapParams:
    """Addresses and instance id are left empty: each node detects its own at boot."""
    from clusterous.node import BootstrapParams

    controller = state.controller
    is_controller = first.group == "controller"
    settings = dict(provider.bootstrap_settings(state.private_cidr))
    if not is_controller:
        settings["shared_device"] = ""
    return BootstrapParams(
        cluster=state.name,
        node=first.name,
        role="controller" if is_controller else "node",
        group=first.group,
        controller_addr="" if is_controller or controller is None else controller.private_addr,
        join_token=join_token,
        private_cidr=state.private_cidr,
        host_key=host_key.private_openssh,
        **settings,
    )


class NodeBootstrapper:
    """Delivers the bootstrap script over SSH and waits for the nodes to be Ready."""

    def __init__(
        self,
        state: ClusterState,
        provider: Provider,
        ledger: Ledger,
        access: ClusterAccess,
        reporter: Reporter,
        deadline: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = state
        self.provider = provider
        self.ledger = ledger
        self.access = access
        self.reporter = reporter
        self.deadline = deadline
        self.clock = clock
        self.log_dir = ledger.dir / "logs"

    def bootstrap_controller(self) -> Session:
        controller = self.state.controller
        assert controller is not None
        self.reporter.node(controller.name, "waiting for SSH")
        session = wait_for_ssh(
            self.access.endpoint(controller),
            self.access.key_path,
            self.access.known_hosts,
            self.deadline,
            clock=self.clock,
        )
        self._run_bootstrap(session, controller, join_token="")
        return session

    def bootstrap_nodes(self, controller: Session, nodes: Sequence[NodeRecord], token: str) -> None:
        if not nodes:
            return
        with ThreadPoolExecutor(max_workers=min(16, len(nodes))) as pool:
            futures = [pool.submit(self._bootstrap_one, controller, n, token) for n in nodes]
            failures = [f.exception() for f in futures if f.exception() is not None]
        if failures:
            raise failures[0]  # type: ignore[misc]

    def _bootstrap_one(self, controller: Session, node: NodeRecord, token: str) -> None:
        self.reporter.node(node.name, "waiting for SSH")
        with wait_for_ssh(
            self.access.endpoint(node),
            self.access.key_path,
            self.access.known_hosts,
            self.deadline,
            via=controller,
            clock=self.clock,
        ) as session:
            self._run_bootstrap(session, node, token)

    def _run_bootstrap(self, session: Session, node: NodeRecord, join_token: str) -> None:
        from clusterous.node import BOOTSTRAP_READY_MARKER, render_bootstrap

        self.reporter.node(node.name, "configuring")
        script = render_bootstrap(self._params(node, join_token))
        log_path = self.log_dir / f"bootstrap-{node.name}.log"
        result = session.run(
            "bash -s",
            stdin=script,
            timeout=max(5.0, self.deadline - self.clock()),
            on_output=lambda line: self.reporter.detail(f"{node.name}: {line}"),
        )
        atomic_write(log_path, result.stdout + result.stderr, mode=0o600)
        if result.exit_status != 0 or BOOTSTRAP_READY_MARKER not in result.stdout:
            raise ClusterousError(
                f"configuring node {node.name} failed (exit status {result.exit_status})",
                "the bootstrap script said:\n" + result.tail(12),
                f"the whole log is in {log_path}",
            )
        self.reporter.node(node.name, "configured")

    def _params(self, node: NodeRecord, join_token: str) -> BootstrapParams:
        from clusterous.node import BootstrapParams

        controller = self.state.controller
        assert controller is not None
        settings = self.provider.bootstrap_settings(self.state.private_cidr)
        return BootstrapParams(
            cluster=self.state.name,
            node=node.name,
            role="controller" if node.is_controller else "node",
            group=node.group,
            instance_id=node.instance_id,
            advertise_addr=node.private_addr,
            controller_addr=controller.private_addr,
            join_token=join_token,
            private_cidr=self.state.private_cidr,
            **settings,
        )

    def wait_ready(self, swarm: Swarm, nodes: Sequence[NodeRecord]) -> None:
        """Wait for Swarm to list every node Ready, label it, mark it ready in the ledger."""
        by_instance = {n.instance_id: (n.name, n.group) for n in nodes}
        records = {n.name: n for n in nodes}

        def mark(name: str) -> None:
            self.ledger.record_node(replace(records[name], ready=True))
            self.reporter.node(name, "ready")

        swarm.wait_ready(by_instance, self.deadline, mark)
