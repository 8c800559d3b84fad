"""What a cluster looks like now: ledger, provider and Swarm views merged per node.

The ledger says what should exist; the provider says whether each machine is
running; the controller's Swarm says whether each node is Ready. A node whose
machine is gone or stopped, or that Swarm lists as down, is reported down.
When the controller cannot be reached, status still answers from the
provider's view and says why the rest is unknown.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from clusterous.engine.swarm import Swarm, SwarmNode, engine_client
from clusterous.errors import ClusterousError
from clusterous.manager.access import ClusterAccess
from clusterous.manager.cost import cluster_cost, publish_cost
from clusterous.manager.lease import run_lease
from clusterous.providers.base import NodeView, Provider
from clusterous.providers.cost import CostReport
from clusterous.records import PAUSED_STATUSES, ClusterState, NodeRecord
from clusterous.remote.ssh import Session


@dataclass(frozen=True)
class NodeStatus:
    name: str
    group: str
    instance_type: str
    instance_id: str
    machine: str  # running, stopped, pending, missing
    swarm: str  # ready, down, unknown, absent
    availability: str
    private_addr: str
    state: str  # up, down, starting

    @classmethod
    def merge(
        cls,
        name: str,
        group: str,
        itype: str,
        instance_id: str,
        addr: str,
        view: NodeView | None,
        swarm: SwarmNode | None,
        swarm_known: bool,
    ) -> NodeStatus:
        machine = view.state if view else "missing"
        swarm_state = (swarm.state if swarm else "absent") if swarm_known else "unknown"
        if machine != "running" or swarm_state in ("down", "absent"):
            overall = "down"
        elif swarm_state == "ready":
            overall = "up"
        else:
            overall = "unknown"
        return cls(
            name,
            group,
            itype,
            instance_id,
            machine,
            swarm_state,
            swarm.availability if swarm else "",
            addr or (view.private_addr if view else ""),
            overall,
        )


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    mode: str
    desired: int
    running: int


@dataclass(frozen=True)
class LeaseStatus:
    """The lease as status shows it; seconds counted on the controller's clock."""

    max_hours: float
    idle_minutes: int
    seconds_left: float | None  # None: no lease, or unknown
    ends_at: float  # on this machine's clock; 0: no lease
    idle_fires_in: float | None  # None: no idle stop, or unknown
    nearly_over: bool  # in its last 10 %
    source: str  # controller | last known (the controller did not answer)


@dataclass
class ClusterStatus:
    name: str
    provider: str
    profile: str
    status: str
    created_at: float
    uptime_seconds: float
    nodes: list[NodeStatus] = field(default_factory=list)
    shared_volume: dict[str, int] | None = None
    services: list[ServiceStatus] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    lease: LeaseStatus | None = None
    cost: CostReport | None = None  # None: the provider cannot say, or it could not be read

    @property
    def stopped(self) -> bool:
        return self.status in PAUSED_STATUSES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cluster_status(
    state: ClusterState, provider: Provider, access: ClusterAccess, now: float | None = None
) -> ClusterStatus:
    now = time.time() if now is None else now
    result = ClusterStatus(
        state.name,
        state.provider,
        state.profile,
        state.status,
        state.created_at,
        max(0.0, now - state.created_at),
    )
    views = {v.name: v for v in provider.describe_nodes()}
    result.cost, unknown = cluster_cost(state, provider, now)
    result.problems += [unknown] if unknown else []
    swarm_nodes: dict[str, SwarmNode] | None = None  # None: unknown
    if state.status not in PAUSED_STATUSES:  # a stopped cluster's nodes are off: ask nothing
        swarm_nodes = _ask_controller(state, access, now, result)
    swarm_known = swarm_nodes is not None
    swarm_nodes = swarm_nodes or {}
    for node in sorted(state.nodes, key=display_order):
        result.nodes.append(
            NodeStatus.merge(
                node.name,
                node.group,
                node.instance_type,
                node.instance_id,
                node.private_addr,
                views.get(node.name),
                swarm_nodes.get(node.instance_id),
                swarm_known,
            )
        )
    if state.status in PAUSED_STATUSES:
        return result  # the lease waits for start, which renews it
    if result.nodes and all(n.machine not in ("running", "pending") for n in result.nodes):
        result.problems.append(_ended_words(state))
    elif result.lease is None:
        result.lease = _lease_last_known(state, now)
    return result


def _ask_controller(
    state: ClusterState, access: ClusterAccess, now: float, result: ClusterStatus
) -> dict[str, SwarmNode] | None:
    """Swarm's nodes (None when the controller does not answer); services, /data, lease."""
    try:
        with access.connect_controller(state, timeout=5) as controller:
            swarm_nodes, result.services = _from_controller(controller)
            result.shared_volume = _volume_usage(controller)
            result.lease = _lease_now(controller, state, now)
            unwritten = publish_cost(controller, result.cost) if result.cost else None
            result.problems += [unwritten] if unwritten else []
            return swarm_nodes
    except ClusterousError as problem:
        result.problems.append(f"controller unreachable: {problem.what}")
        return None


def _lease_now(controller: Session, state: ClusterState, now: float) -> LeaseStatus | None:
    lease = state.lease
    if lease.max_hours <= 0 and lease.idle_minutes <= 0:
        return None
    try:
        view = run_lease(controller, "show", lease.max_hours)
    except ClusterousError:
        return None
    if view is None:
        return None
    return LeaseStatus(
        lease.max_hours,
        lease.idle_minutes,
        view.seconds_left,
        view.expires_at(now),
        view.idle_fires_in,
        view.nearly_over(),
        "controller",
    )


def _lease_last_known(state: ClusterState, now: float) -> LeaseStatus | None:
    lease = state.lease
    if lease.max_hours <= 0 and lease.idle_minutes <= 0:
        return None
    left = max(0.0, lease.expires_at - now) if lease.expires_at else None
    return LeaseStatus(
        lease.max_hours, lease.idle_minutes, left, lease.expires_at, None, False, "last known"
    )


def _ended_words(state: ClusterState) -> str:
    if state.lease.max_hours > 0 or state.lease.idle_minutes > 0:
        why = "its lease (or idle stop) ended them, with no command from here"
    else:
        why = "they were stopped or terminated outside clusterous"
    return (
        f"no node of the cluster is running: {why}; "
        f"'clusterous destroy {state.name}' removes the rest"
    )


def display_order(node: NodeRecord) -> tuple[bool, str, int]:
    """Controller first, then groups by name, nodes by number (worker-2 before worker-10)."""
    suffix = node.name.rsplit("-", 1)[-1]
    return (not node.is_controller, node.group, int(suffix) if suffix.isdigit() else 0)


def _from_controller(controller: Session) -> tuple[dict[str, SwarmNode], list[ServiceStatus]]:
    import docker

    try:
        with engine_client(controller) as client:
            swarm = Swarm(client)
            return swarm.by_instance(), _services(client)
    except docker.errors.DockerException as problem:
        raise ClusterousError(
            "the controller's Docker engine does not answer", str(problem)
        ) from problem


def _services(client: Any) -> list[ServiceStatus]:
    found = []
    for service in client.services.list():
        mode = service.attrs["Spec"].get("Mode", {})
        if "ReplicatedJob" in mode or "GlobalJob" in mode:
            continue  # batch jobs: 'clusterous jobs' lists them
        tasks = service.tasks(filters={"desired-state": "running"})
        running = sum(1 for t in tasks if t.get("Status", {}).get("State") == "running")
        desired = mode["Replicated"].get("Replicas", 0) if "Replicated" in mode else len(tasks)
        found.append(
            ServiceStatus(
                service.name, "replicated" if "Replicated" in mode else "global", desired, running
            )
        )
    return found


def _volume_usage(controller: Session) -> dict[str, int] | None:
    result = controller.run("df -B1 --output=size,used,avail /data | tail -n 1", timeout=10)
    parts = result.stdout.split()
    if result.exit_status != 0 or len(parts) != 3:
        return None
    size, used, avail = (int(p) for p in parts)
    return {"size_bytes": size, "used_bytes": used, "available_bytes": avail}
