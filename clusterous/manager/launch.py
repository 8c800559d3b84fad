"""What the manager launches: one request per node, one user-data per group.

Used by create and by add-nodes on every provider alike. The nodes of one
group are launched together with one user-data (DESIGN section 3), so they
share one host key, pinned under each node's alias; each node finds its own
name and instance id at boot. The controller's user-data has no join token;
every other group's carries the controller's current one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from clusterous.manager.access import ClusterAccess
from clusterous.manager.ledger import Ledger
from clusterous.providers.base import NodeRequest, Provider
from clusterous.records import ClusterState, NodeRecord, ResourceRecord
from clusterous.remote.keys import KeyPair, generate_ed25519

if TYPE_CHECKING:
    from clusterous.manager.plan import NodePlan
    from clusterous.node import BootstrapParams


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


def launch_requests(
    state: ClusterState,
    provider: Provider,
    access: ClusterAccess,
    nodes: Sequence[NodePlan],
    login_public_key: str,
    join_token: str,
) -> list[NodeRequest]:
    """One request per node; the nodes of a group share their host key and user-data."""
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
    settings = provider.bootstrap_settings(state.private_cidr)
    if not is_controller:
        settings = replace(settings, shared_device="")
    return BootstrapParams(
        cluster=state.name,
        node=first.name,
        role="controller" if is_controller else "node",
        group=first.group,
        controller_addr="" if is_controller or controller is None else controller.private_addr,
        join_token=join_token,
        private_cidr=state.private_cidr,
        host_key=host_key.private_openssh,
        lease_seconds=str(round(state.lease.max_hours * 3600)),
        idle_minutes=str(state.lease.idle_minutes),
        logging=str(state.logging.level),
        log_max_use=f"{state.logging.max_mib}M",
        **asdict(settings),
    )
