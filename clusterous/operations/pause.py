"""Stop and start use cases: pause a cluster's compute and bring it back as it was.

``stop`` closes the environment's tunnels (their records stay), then the
manager pauses the lease and stops every machine. ``start`` has the manager
start them, renew the lease and wait for Swarm Ready; then waits for the
running environment's services to run again (Swarm reschedules them) and
reopens its tunnels, as ``clusterous tunnel`` does. ``stop`` says what the
stopped cluster still bills (status's cost: disks and stored images, no instances).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from clusterous.errors import ClusterousError
from clusterous.manager.lease import LeaseView
from clusterous.manager.lock import cluster_lock
from clusterous.manager.pause import (
    ALIVE,
    STARTING,
    Machines,
    PauseContext,
    start_cluster,
    stop_cluster,
)
from clusterous.manager.report import Reporter
from clusterous.operations.handle import ClusterHandle
from clusterous.operations.lease import ended
from clusterous.providers.cost import CostReport
from clusterous.records import PAUSED_STATUSES, NodeRecord, TunnelRecord

DEFAULT_TIMEOUT = 600.0


@dataclass
class Stopped:
    already: bool  # it was stopped before this command
    nodes: list[NodeRecord] = field(default_factory=list)
    cost: CostReport | None = None  # None: the provider cannot say


@dataclass
class Started:
    already: bool  # it was running before this command
    lease: LeaseView | None = None
    tunnels: list[tuple[TunnelRecord, str]] = field(default_factory=list)


def context(handle: ClusterHandle, reporter: Reporter, timeout: float) -> PauseContext:
    return PauseContext(handle.provider, handle.ledger, handle.access, reporter, timeout)


def stop(handle: ClusterHandle, reporter: Reporter, timeout: float = DEFAULT_TIMEOUT) -> Stopped:
    from clusterous.environments import tunnels

    with cluster_lock(handle.home, handle.name, reporter.warn):
        state = handle.state()
        machines = Machines.of(state, handle.provider)
        refuse_gone(handle.name, machines)
        if state.status in PAUSED_STATUSES and not machines.with_state(*ALIVE, "stopping"):
            return Stopped(True, list(state.nodes), stopped_cost(handle))
        closed = tunnels.stop_all(state.tunnels, handle.name)  # the records stay, for start
        if state.dashboard is not None:  # 'clusterous dashboard' opens it again
            tunnels.stop(state.dashboard, handle.name)
        if closed:
            reporter.done(f"closed {len(closed)} tunnel(s); start opens them again")
        nodes = stop_cluster(context(handle, reporter, timeout))
    return Stopped(False, nodes, stopped_cost(handle))


def start(handle: ClusterHandle, reporter: Reporter, timeout: float = DEFAULT_TIMEOUT) -> Started:
    deadline = time.monotonic() + timeout
    with cluster_lock(handle.home, handle.name, reporter.warn):
        state = handle.state()
        machines = Machines.of(state, handle.provider)
        refuse_gone(handle.name, machines)
        paused = state.status in (*PAUSED_STATUSES, STARTING)
        if not paused and not machines.with_state("stopping", "stopped"):
            return Started(True)
        lease = start_cluster(context(handle, reporter, timeout))
        if state.environment is not None:
            wait_services(handle, reporter, deadline)
    from clusterous.operations.environments import reopen_tunnels

    return Started(False, lease, reopen_tunnels(handle, reporter.warn))


def refuse_gone(name: str, machines: Machines) -> None:
    """A cluster whose machines were terminated (its lease ended them) cannot stop or start."""
    if machines.all_gone:
        raise ended(name, "nothing is left to stop or start")
    left = machines.with_state(*ALIVE, "stopping", "stopped")
    gone = [n.name for n in machines.nodes if n not in left]
    if gone:
        raise ClusterousError(
            f"nodes of cluster {name!r} are gone: {', '.join(gone)}",
            "their machines were terminated (a lease's end, or by hand)",
            f"run 'clusterous destroy {name}' to remove the rest, then create it again",
        )


def wait_services(handle: ClusterHandle, reporter: Reporter, deadline: float) -> None:
    from clusterous.environments import swarm_apps
    from clusterous.operations.environments import engine

    reporter.step("waiting for the environment's services to run again")
    with engine(handle) as (_, client):
        swarm_apps.wait_rescheduled(
            client,
            deadline,
            lambda p: reporter.node(p.component, f"{p.running}/{p.desired} running"),
        )
    reporter.done("every service runs again")


def stopped_cost(handle: ClusterHandle) -> CostReport | None:
    """What the stopped cluster still bills: status's cost, the lines that bill while stopped."""
    from clusterous.manager.cost import cluster_cost

    report, _ = cluster_cost(handle.state(), handle.provider, time.time())
    return report
