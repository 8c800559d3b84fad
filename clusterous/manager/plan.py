"""Plan a cluster before making anything: which nodes, of which types, in which groups.

The plan is data. ``create --dry-run`` renders it and stops; ``create`` hands
the same plan to the executor. Node names are ``controller`` and
``<group>-<n>`` (``worker-1``, ``worker-2``, ...), stable across scaling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from clusterous.errors import InputError
from clusterous.providers.base import Provider
from clusterous.records import LoggingSettings

GROUP_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class NodePlan:
    name: str
    group: str
    instance_type: str
    spot: bool = False
    spot_fallback: str = "on-demand"

    @property
    def role(self) -> str:
        return "controller" if self.group == "controller" else "node"


@dataclass(frozen=True)
class GroupRequest:
    """What a profile asks for one group: a type (None: the provider's default) and a count."""

    name: str
    instance_type: str | None
    count: int
    spot: bool = False
    spot_fallback: str = "on-demand"


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    provider: str
    profile: str
    controller: NodePlan
    nodes: tuple[NodePlan, ...]
    shared_volume_size: int | None = None
    shared_volume_id: str | None = None
    environment_file: Path | None = None
    max_hours: float = 0.0  # the lease; 0: none
    idle_minutes: int = 0  # idle stop; 0: off
    logging: LoggingSettings = field(default_factory=LoggingSettings)

    @property
    def all_nodes(self) -> tuple[NodePlan, ...]:
        return (self.controller, *self.nodes)

    def groups(self) -> dict[str, list[NodePlan]]:
        grouped: dict[str, list[NodePlan]] = {}
        for node in self.nodes:
            grouped.setdefault(node.group, []).append(node)
        return grouped


def plan_cluster(
    name: str,
    provider: Provider,
    profile: str,
    groups: Iterable[GroupRequest],
    controller_type: str | None = None,
    shared_volume_size: int | None = None,
    shared_volume_id: str | None = None,
    environment_file: Path | None = None,
    logging: LoggingSettings | None = None,
) -> ClusterPlan:
    requested = list(groups)
    _check_groups(requested)
    catalog = provider.catalog
    controller = NodePlan(
        "controller", "controller", controller_type or catalog.default_instance_type("controller")
    )
    nodes: list[NodePlan] = []
    for group in requested:
        itype = group.instance_type or catalog.default_instance_type("node")
        nodes += [
            NodePlan(f"{group.name}-{i}", group.name, itype, group.spot, group.spot_fallback)
            for i in range(1, group.count + 1)
        ]
    catalog.check_instance_types(sorted({n.instance_type for n in (controller, *nodes)}))
    return ClusterPlan(
        name,
        provider.name,
        profile,
        controller,
        tuple(nodes),
        shared_volume_size,
        shared_volume_id,
        environment_file,
        logging=logging or LoggingSettings(),
    )


def _check_groups(groups: list[GroupRequest]) -> None:
    for group in groups:
        if group.name == "controller" or not set(group.name) <= GROUP_NAME_CHARS:
            raise InputError(
                f"invalid node group name {group.name!r}",
                "use lowercase letters, digits, '-' and '_'; 'controller' is reserved",
            )
        if group.count < 0:
            raise InputError(f"node group {group.name!r} has a negative count ({group.count})")


def next_node_names(existing: Iterable[str], group: str, count: int, retired: int = 0) -> list[str]:
    """Names for ``count`` new nodes of a group, after the highest number ever used.

    ``retired`` is the highest number of a removed node: names are never reused,
    because Swarm's gossip remembers a removed node for a while and a newcomer
    with its name waited about 30 s before running tasks.
    """
    numbers = [
        int(name.rsplit("-", 1)[1])
        for name in existing
        if name.startswith(f"{group}-") and name.rsplit("-", 1)[1].isdigit()
    ]
    start = max(max(numbers, default=0), retired) + 1
    return [f"{group}-{i}" for i in range(start, start + count)]


def default_groups(
    workers: int, master_type: str | None, worker_type: str | None
) -> list[GroupRequest]:
    """Clusterous 1.0's default cluster: one master, N workers."""
    return [GroupRequest("master", master_type, 1), GroupRequest("worker", worker_type, workers)]
