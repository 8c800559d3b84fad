"""Stop and start a whole cluster: the compute pauses; /data, the registry and the ledger stay.

``stop`` pauses the lease on every node (``clusterous-lease pause``: a node
that boots again after it gets a grace before a lease that ran out while it
was stopped can end it), has the provider stop every machine, and records the
cluster as stopped. ``start`` has the provider start them again, records the
endpoints they come back with (an EC2 instance gets a new public address),
renews the lease from now while the grace lasts, and waits for every node to
be Ready in Swarm. The ledger's status says where either got to: "stopping",
"stopped", "starting", then "ready"; both can be run again after a failure.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

from clusterous import cancel
from clusterous.errors import ClusterousError
from clusterous.manager.lease import LeaseView, hours_to_seconds, remember_lease, run_lease
from clusterous.manager.scale import ScaleContext
from clusterous.providers.base import HostRoom, NodeView, Provider
from clusterous.records import ClusterState, NodeRecord
from clusterous.remote.ssh import Session

STOPPING, STOPPED, STARTING, READY = "stopping", "stopped", "starting", "ready"
ALIVE = ("running", "pending")
PAUSE_COMMAND = "/usr/local/sbin/clusterous-lease pause"


# What stop and start need is what add-nodes and rm-nodes need.
PauseContext = ScaleContext


@dataclass(frozen=True)
class Machines:
    """The cluster's nodes as the provider sees them now, by the ledger's names."""

    views: dict[str, NodeView]
    nodes: tuple[NodeRecord, ...]

    @classmethod
    def of(cls, state: ClusterState, provider: Provider) -> Machines:
        return cls({v.name: v for v in provider.describe_nodes()}, tuple(state.nodes))

    def state_of(self, node: NodeRecord) -> str:
        view = self.views.get(node.name)
        return view.state if view else "missing"

    def with_state(self, *states: str) -> list[NodeRecord]:
        return [n for n in self.nodes if self.state_of(n) in states]

    @property
    def all_gone(self) -> bool:
        """No machine left that a start could bring back (a lease's end, or a termination)."""
        return bool(self.nodes) and not self.with_state(*ALIVE, "stopping", "stopped")


# -- stop ----------------------------------------------------------------------------


def stop_cluster(ctx: PauseContext) -> list[NodeRecord]:
    """Pause the lease, stop every machine, record the cluster as stopped; the nodes stopped."""
    state = ctx.ledger.load()
    machines = Machines.of(state, ctx.provider)
    ctx.ledger.set_status(STOPPING)
    running = machines.with_state(*ALIVE)
    if running and (state.lease.max_hours > 0 or state.lease.idle_minutes > 0):
        ctx.reporter.step("pausing the lease on every node")
        pause_leases(ctx, state, running)
    ctx.reporter.step(f"stopping {len(state.nodes)} nodes")
    ctx.provider.stop_nodes(machines.with_state(*ALIVE, "stopping", "stopped"), ctx.reporter.info)
    ctx.ledger.set_status(STOPPED)
    ctx.reporter.done(f"cluster {state.name} stopped")
    return list(state.nodes)


def pause_leases(ctx: PauseContext, state: ClusterState, nodes: Sequence[NodeRecord]) -> None:
    """Best effort: a node not paused may end itself when started if its lease ran out."""
    try:
        with ctx.access.connect_controller(state, timeout=15) as session:
            failed = cancel.in_parallel([partial(_pause, ctx, state, n, session) for n in nodes])
    except ClusterousError as problem:
        failed = [f"the controller: {problem.what}"]
    for failure in (f for f in failed if f):
        ctx.reporter.warn(
            f"the lease was not paused on {failure}; if the lease runs out while the cluster "
            "is stopped, that node ends itself when started (on AWS: it is terminated)"
        )


def _pause(ctx: PauseContext, state: ClusterState, node: NodeRecord, via: Session) -> str:
    """'' when paused, else the node and why not."""
    try:
        if node.is_controller:
            result = via.run(PAUSE_COMMAND, timeout=15)
        else:
            with ctx.access.connect_node(state, node, via) as session:
                result = session.run(PAUSE_COMMAND, timeout=15)
    except ClusterousError as problem:
        return f"{node.name}: {problem.what}"
    if result.exit_status != 0:
        return f"{node.name}: its lease script predates 'clusterous stop' ({result.tail()})"
    ctx.reporter.node(node.name, "lease paused")
    return ""


# -- start ---------------------------------------------------------------------------


def start_cluster(ctx: PauseContext) -> LeaseView | None:
    """Start every machine, renew the lease from now, wait until every node is Ready."""
    state = ctx.ledger.load()
    if isinstance(ctx.provider, HostRoom):
        ctx.provider.check_room(len(state.nodes))
    deadline = ctx.clock() + ctx.timeout
    ctx.ledger.set_status(STARTING)
    ctx.reporter.step(f"starting {len(state.nodes)} nodes")
    for node in ctx.provider.start_nodes(state.nodes, ctx.reporter.info):
        ctx.ledger.record_node(replace(node, ready=False))
    state = ctx.ledger.load()
    ctx.reporter.step("waiting for every node to be Ready in Swarm")
    with ctx.links().controller(state, deadline) as link:
        lease = renew_after_start(ctx, state)
        link.wait_ready(state.nodes, deadline)
    ctx.ledger.set_status(READY)
    return lease


def renew_after_start(ctx: PauseContext, state: ClusterState) -> LeaseView | None:
    """A fresh lease of the cluster's max_hours from now (the lease ran on while stopped)."""
    lease = state.lease
    if lease.max_hours <= 0 and lease.idle_minutes <= 0:
        return None
    access = replace(ctx.access, lease=None)  # this renewal says its own words
    with access.connect_controller(state, timeout=30) as session:
        view = run_lease(session, f"extend {hours_to_seconds(lease.max_hours)}", lease.max_hours)
    if view is not None and view.ended:
        raise ClusterousError(
            f"the lease of cluster {state.name!r} ran out while it was stopped, and its nodes "
            "are ending",
            "they were stopped without pausing their lease",
            f"run 'clusterous destroy {state.name}' to remove what is left",
        )
    if view is not None:
        remember_lease(ctx.ledger, view, time.time())
    return view
