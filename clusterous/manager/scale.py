"""Grow and shrink node groups of a running cluster.

add-nodes launches the new nodes with the controller's current join token in
their user-data, exactly as create launches its groups, and waits for them to
be Ready; a failure removes only the new nodes. rm-nodes drains the chosen
nodes in Swarm, waits until their tasks run elsewhere, then removes them from
Swarm and from the provider.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from clusterous import cancel
from clusterous.errors import ClusterousError, InputError, Interrupted, NotFoundError
from clusterous.manager.access import ClusterAccess
from clusterous.manager.launch import LedgerRecorder, launch_requests
from clusterous.manager.ledger import Ledger
from clusterous.manager.machines import MachineWatch
from clusterous.manager.plan import NodePlan, next_node_names
from clusterous.manager.readiness import ControllerLink, Readiness, SwarmReadiness
from clusterous.manager.report import Reporter
from clusterous.providers.base import HostRoom, Provider
from clusterous.records import ClusterState, GroupMarket, NodeRecord


@dataclass(frozen=True)
class ScaleContext:
    provider: Provider
    ledger: Ledger
    access: ClusterAccess
    reporter: Reporter
    timeout: float = 600.0
    clock: Callable[[], float] = time.monotonic
    readiness: Readiness | None = None  # None: SSH and Swarm on the controller

    def links(self) -> Readiness:
        if self.readiness is not None:
            return self.readiness
        watch = MachineWatch(self.provider, self.clock)
        return SwarmReadiness(self.access, self.ledger, self.reporter, self.clock, watch=watch)


def choose_group(state: ClusterState, group: str | None) -> str:
    """The named group, or the obvious one: 'worker' if present, else the only group."""
    groups = sorted(state.node_groups())
    if group is not None:
        if group not in groups:
            raise NotFoundError(
                f"cluster {state.name!r} has no node group {group!r}",
                f"its groups are: {', '.join(groups) or 'none'}",
            )
        return group
    if "worker" in groups:
        return "worker"
    if len(groups) == 1:
        return groups[0]
    raise InputError(
        "say which node group to change",
        f"cluster {state.name!r} has several: {', '.join(groups)}",
        "add the group name, e.g. 'clusterous add-nodes 2 GROUP'",
    )


def check_count(count: int) -> None:
    if count <= 0:
        raise InputError(f"the number of nodes must be at least 1, got {count}")


def add_nodes(
    ctx: ScaleContext, group: str | None, count: int, instance_type: str | None
) -> list[NodeRecord]:
    check_count(count)
    state = ctx.ledger.load()
    group = choose_group(state, group)
    itype = instance_type or state.node_groups()[group][0].instance_type
    ctx.provider.catalog.check_instance_types([itype])
    if isinstance(ctx.provider, HostRoom):
        ctx.provider.check_room(count)
    retired = state.retired.get(group, 0)
    names = next_node_names((n.name for n in state.nodes), group, count, retired)
    deadline = ctx.clock() + ctx.timeout
    try:
        ctx.reporter.step(f"launching {count} node(s) in group {group}")
        new = _launch(ctx, state, _plans(state, group, names, itype), deadline)
    except (ClusterousError, KeyboardInterrupt) as failure:
        _remove_new_nodes(ctx, state.name, group, names)
        if isinstance(failure, KeyboardInterrupt):
            raise Interrupted(
                f"add-nodes on cluster {state.name!r} interrupted",
                None,
                "the nodes that were being added were removed",
            ) from None
        raise ClusterousError(f"add-nodes failed: {failure.render()}", None, None) from failure
    return new


def _remove_new_nodes(ctx: ScaleContext, cluster: str, group: str, names: list[str]) -> None:
    """Undo an add-nodes; a second Ctrl-C stops that and says how to finish it."""
    try:
        ctx.reporter.warn("removing the nodes that were being added (Ctrl-C again stops it)")
        # Its own cancel event: the add-nodes', already set, must not cut these waits.
        with cancel.fresh():
            _forget(ctx, [n for n in ctx.ledger.load().nodes if n.name in names])
    except KeyboardInterrupt:
        left = [n.name for n in ctx.ledger.load().nodes if n.name in names]
        raise Interrupted(
            f"removing the new nodes of cluster {cluster!r} was stopped",
            f"not yet removed: {', '.join(left) or 'none recorded in the ledger'}",
            _finish_removal(cluster, group, len(left)),
        ) from None


def _finish_removal(cluster: str, group: str, left: int) -> str:
    """The command that removes the newest ``left`` nodes of the group (rm-nodes takes those)."""
    whole = f"'clusterous destroy {cluster}' removes the whole cluster"
    if not left:
        return f"check with 'clusterous status {cluster}'; {whole}"
    return f"run 'clusterous rm-nodes {left} {group} --cluster {cluster}'; {whole}"


def _plans(state: ClusterState, group: str, names: list[str], itype: str) -> list[NodePlan]:
    """New nodes launched like their group was at create (spot or not)."""
    market = state.groups.get(group, GroupMarket())
    return [NodePlan(name, group, itype, market.spot, market.spot_fallback) for name in names]


def _launch(
    ctx: ScaleContext, state: ClusterState, plans: list[NodePlan], deadline: float
) -> list[NodeRecord]:
    """The current join token goes into the new nodes' user-data; then wait for Ready."""
    with ctx.links().controller(state, deadline) as link:
        requests = launch_requests(
            state,
            ctx.provider,
            ctx.access,
            plans,
            ctx.access.login_public_key(),
            link.join_token(),
        )
        new = ctx.provider.launch_nodes(requests, LedgerRecorder(ctx.ledger), ctx.reporter.info)
        link.wait_ready(new, deadline)
    return new


def leaving_nodes(state: ClusterState, group: str | None, count: int) -> list[NodeRecord]:
    """The nodes rm-nodes takes: the group's newest ``count``."""
    check_count(count)
    group = choose_group(state, group)
    members = sorted(state.node_groups()[group], key=_number, reverse=True)
    if count > len(members):
        raise InputError(
            f"group {group!r} has only {len(members)} node(s); cannot remove {count}",
            None,
            f"remove at most {len(members)}, or destroy the cluster",
        )
    return members[:count]


def rm_nodes(ctx: ScaleContext, group: str | None, count: int) -> list[NodeRecord]:
    state = ctx.ledger.load()
    leaving = leaving_nodes(state, group, count)
    with ctx.links().controller(state, ctx.clock() + ctx.timeout) as link:
        _drain(ctx, link, leaving)
        _forget(ctx, leaving, link)
    return leaving


def _drain(ctx: ScaleContext, link: ControllerLink, leaving: list[NodeRecord]) -> None:
    ctx.reporter.step(f"draining {', '.join(n.name for n in leaving)}")
    link.drain(leaving, ctx.clock() + ctx.timeout)
    ctx.reporter.done("their tasks were moved to other nodes")


def _forget(ctx: ScaleContext, nodes: list[NodeRecord], link: ControllerLink | None = None) -> None:
    """Terminate the nodes, remove them from Swarm, the ledger and known_hosts."""
    ctx.provider.terminate_nodes(nodes, ctx.reporter.done)
    if link is not None:
        link.forget(nodes)
    for node in nodes:
        ctx.ledger.retire(node, _number(node))
        ctx.ledger.forget_node(node.name)
        ctx.access.known_hosts.remove(ctx.access.alias(node.name))


def _number(node: NodeRecord) -> int:
    suffix = node.name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0
