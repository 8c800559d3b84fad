"""Plan an environment's Swarm services: pure data, no Docker.

An Environment becomes one :class:`ServiceSpec` per component, in dependency
order, placed on its node group by label, ports published in host mode with
DNS round-robin endpoints (no IPVS needed), and the shared volume bound at
/data and /home/data. ``count: N`` is N replicas. ``count: auto`` means what
it meant in Clusterous 1.0: on every node of the group, ⌊node CPUs ÷ cpu⌋
tasks, at least 1 (one with ``cpu: auto``); Swarm enforces it with the CPU
reservation and a maximum of replicas per node (:func:`auto_count`), and the
service carries its rule in labels so add-nodes and rm-nodes can re-plan it.
"""

from __future__ import annotations

import graphlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clusterous.errors import InputError
from clusterous.formats import Component, Environment, Tunnel

GROUP_CONSTRAINT = "node.labels.clusterous.group == {group}"
ENV_LABEL = "clusterous.environment"
COMPONENT_LABEL = "clusterous.component"
SERVICE_GROUP_LABEL = "clusterous.group"
# On a count: auto service: its cpu ("0.5", or "auto"), what a re-plan divides by.
COUNT_AUTO_LABEL = "clusterous.count-auto"
VOLUME_TARGETS = ("/data", "/home/data")
MIN_AUTO_CPU = 0.05


@dataclass(frozen=True)
class ServiceSpec:
    """One component as a Swarm service."""

    name: str
    image: str
    group: str
    replicas: int
    max_per_node: int  # 0: no limit
    command: list[str] | None
    cpus: float
    memory_bytes: int | None
    ports: list[tuple[int, int]]  # (published on the node, container)
    host_network: bool
    attach_volume: bool
    environment: dict[str, str]
    depends: list[str]
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def constraint(self) -> str:
        return GROUP_CONSTRAINT.format(group=self.group)

    @property
    def nano_cpus(self) -> int:
        return round(self.cpus * 1e9)


@dataclass(frozen=True)
class DeployPlan:
    environment: str
    network: str
    services: list[ServiceSpec]

    def service(self, name: str) -> ServiceSpec:
        return next(s for s in self.services if s.name == name)


@dataclass(frozen=True)
class AutoCount:
    """``count: auto`` on a group: tasks in all, and at most this many on one node."""

    replicas: int
    per_node: int


def tasks_per_node(node_cpus: float, cpu: float | None) -> int:
    """⌊node CPUs ÷ cpu⌋, at least 1; ``cpu: auto`` (None) is one per node."""
    if cpu is None:
        return 1
    # The small epsilon keeps 0.3 / 0.1 at 3, not 2.9999999999999996.
    return max(1, math.floor(node_cpus / cpu + 1e-9))


def auto_count(node_cpus: Sequence[float], cpu: float | None) -> AutoCount:
    """What ``count: auto`` runs on nodes with these CPUs (each node's own count, summed)."""
    each = [tasks_per_node(cpus, cpu) for cpus in node_cpus]
    return AutoCount(sum(each), max(each, default=1))


def auto_reservation(node_cpus: Sequence[float], cpu: float) -> float:
    """The CPU reserved per task of ``count: auto``: ``cpu``, capped at the smallest node.

    A task that asks more than a node has still runs one per node (1.0's "at
    least 1"); an uncapped reservation would leave it pending for ever.
    """
    return min([cpu, *node_cpus])


def network_name(environment: str) -> str:
    return f"clusterous-env-{environment}"


def deploy_order(components: Mapping[str, Component]) -> list[str]:
    """Component names, each after its dependencies; a cycle or unknown name is refused."""
    for name, part in components.items():
        unknown = [d for d in part.depends if d not in components]
        if unknown:
            raise InputError(
                f"component {name!r} depends on {unknown[0]!r}, which is not a component",
                f"the components are: {', '.join(components)}",
                "fix 'depends:' in the environment file",
            )
    graph = {name: sorted(part.depends) for name, part in components.items()}
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        loop = " -> ".join(cycle.args[1])
        raise InputError(
            f"the components depend on each other in a circle: {loop}",
            None,
            "remove one of these 'depends:' entries",
        ) from cycle


def command_of(cmd: str | list[str] | None) -> list[str] | None:
    """A string command runs through the shell, as in Clusterous 1.0."""
    if cmd is None:
        return None
    if isinstance(cmd, str):
        return ["/bin/sh", "-c", cmd]
    return list(cmd)


def auto_cpu_shares(
    components: Mapping[str, Component], group_cpus: Mapping[str, float]
) -> dict[str, float]:
    """``cpu: auto``: what fixed reservations leave of a group's node, shared evenly."""
    shares: dict[str, float] = {}
    for group, cpus in group_cpus.items():
        here = {n: c for n, c in components.items() if c.machine == group}
        fixed = sum(float(c.cpu) for c in here.values() if c.cpu != "auto")
        auto = [n for n, c in here.items() if c.cpu == "auto"]
        for name in auto:
            shares[name] = max(MIN_AUTO_CPU, round((cpus - fixed) / len(auto), 2))
    return shares


def tunnel_ports(component: Component, tunnels: list[Tunnel], name: str) -> list[tuple[int, int]]:
    """Published ports, plus each tunnel's remote port the component does not publish yet."""
    ports = [(p.host, p.container) for p in component.ports]
    if component.docker_network == "host":
        return []
    for tunnel in tunnels:
        if tunnel.component == name and tunnel.remote_port not in [h for h, _ in ports]:
            ports.append((tunnel.remote_port, tunnel.remote_port))
    return ports


def plan_deploy(
    environment: Environment, node_cpus: Mapping[str, Sequence[float]]
) -> DeployPlan:
    """The services of ``environment`` in deploy order, for groups whose nodes have these CPUs."""
    group_cpus = {group: min(cpus) for group, cpus in node_cpus.items() if cpus}
    missing = sorted({c.machine for c in environment.components.values()} - set(group_cpus))
    if missing:
        raise InputError(
            f"environment {environment.name!r} runs components on node group "
            f"{missing[0]!r}, which this cluster does not have",
            f"its groups are: {', '.join(sorted(group_cpus)) or 'none'}",
            f"add nodes to it: 'clusterous add-nodes 1 {missing[0]}'",
        )
    _check_tunnels(environment)
    shares = auto_cpu_shares(environment.components, group_cpus)
    services = [
        _service(environment, name, shares, node_cpus[environment.components[name].machine])
        for name in deploy_order(environment.components)
    ]
    return DeployPlan(environment.name, network_name(environment.name), services)


def _check_tunnels(environment: Environment) -> None:
    for tunnel in environment.tunnels:
        if tunnel.component not in environment.components:
            raise InputError(
                f"a tunnel goes to component {tunnel.component!r}, which is not a component",
                f"the components are: {', '.join(environment.components)}",
                "fix 'expose_tunnel:' in the environment file",
            )


def _service(
    environment: Environment, name: str, shares: Mapping[str, float], nodes: Sequence[float]
) -> ServiceSpec:
    part = environment.components[name]
    cpu = None if part.cpu == "auto" else float(part.cpu)
    labels = {ENV_LABEL: environment.name, COMPONENT_LABEL: name, SERVICE_GROUP_LABEL: part.machine}
    if part.count == "auto":
        count = auto_count(nodes, cpu)
        replicas, per_node = count.replicas, count.per_node
        labels[COUNT_AUTO_LABEL] = "auto" if cpu is None else repr(cpu)
        cpu = None if cpu is None else auto_reservation(nodes, cpu)
    else:
        replicas, per_node = int(part.count), 0
    return ServiceSpec(
        name=name,
        image=part.image,
        group=part.machine,
        replicas=replicas,
        max_per_node=per_node,
        command=command_of(part.cmd),
        cpus=shares[name] if cpu is None else cpu,
        memory_bytes=part.memory,
        ports=tunnel_ports(part, environment.tunnels, name),
        host_network=part.docker_network == "host",
        attach_volume=part.attach_volume,
        environment=dict(part.environment),
        depends=list(part.depends),
        labels=labels,
    )
