"""Plan a cluster before making anything: which nodes, of which types, in which groups.

The plan is data. ``create --dry-run`` renders it and stops; ``create`` hands
the same plan to the executor. Node names are ``controller`` and
``<group>-<n>`` (``worker-1``, ``worker-2``, ...), stable across scaling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from clusterous.errors import InputError
from clusterous.providers.base import Provider

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

    @property
    def all_nodes(self) -> tuple[NodePlan, ...]:
        return (self.controller, *self.nodes)

    def groups(self) -> dict[str, list[NodePlan]]:
        grouped: dict[str, list[NodePlan]] = {}
        for node in self.nodes:
            grouped.setdefault(node.group, []).append(node)
        return grouped

    def rows(self, provider: Provider) -> list[tuple[str, str, int, str, str]]:
        """(group, type, count, cpu/memory, hourly price) per line, for display."""
        types = provider.instance_types()
        rows = []
        lines = [("controller", [self.controller]), *self.groups().items()]
        for group, members in lines:
            itype = types.get(members[0].instance_type)
            size = f"{itype.cpus:g} CPU, {itype.memory_mib / 1024:g} GiB" if itype else "?"
            price = "price unknown"
            if itype and itype.hourly_price == 0:
                price = "free"
            elif itype and itype.hourly_price is not None:
                price = f"${itype.hourly_price * len(members):.4f}/h"
            rows.append((group, members[0].instance_type, len(members), size, price))
        return rows

    def priced_rows(self, provider: Provider) -> list[tuple[str, str, int, str, str]]:
        """(group, type, count, image, hourly price) per line, then the total (--dry-run)."""
        prices = {n: t.hourly_price for n, t in provider.instance_types().items()}
        rows = []
        total: float | None = 0.0
        for group, members in [("controller", [self.controller]), *self.groups().items()]:
            itype = members[0].instance_type
            hourly = prices.get(itype)
            line = None if hourly is None else hourly * len(members)
            total = None if total is None or line is None else total + line
            price = "price unknown" if line is None else f"${line:.4f}/h"
            if line == 0:
                price = "free"
            if line is not None and members[0].spot:
                price += " (on-demand price; spot costs less)"
            rows.append((group, itype, len(members), provider.image_of(itype), price))
        total_text = "price unknown" if total is None else f"${total:.4f}/h"
        if total == 0:
            total_text = "free"
        rows.append(("total", "", len(self.all_nodes), "", total_text))
        return rows


def plan_cluster(
    name: str,
    provider: Provider,
    profile: str,
    groups: Iterable[GroupRequest],
    controller_type: str | None = None,
    shared_volume_size: int | None = None,
    shared_volume_id: str | None = None,
    environment_file: Path | None = None,
) -> ClusterPlan:
    requested = list(groups)
    _check_groups(requested)
    controller = NodePlan(
        "controller", "controller", controller_type or provider.default_instance_type("controller")
    )
    nodes: list[NodePlan] = []
    for group in requested:
        itype = group.instance_type or provider.default_instance_type("node")
        nodes += [
            NodePlan(f"{group.name}-{i}", group.name, itype, group.spot, group.spot_fallback)
            for i in range(1, group.count + 1)
        ]
    provider.check_instance_types(sorted({n.instance_type for n in (controller, *nodes)}))
    return ClusterPlan(
        name,
        provider.name,
        profile,
        controller,
        tuple(nodes),
        shared_volume_size,
        shared_volume_id,
        environment_file,
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
