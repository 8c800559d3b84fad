"""Plan an environment's Swarm services: pure data, no Docker.

An Environment becomes one :class:`ServiceSpec` per component, in dependency
order: ``count: N`` a replicated service, ``count: auto`` a global one (so it
follows the group's nodes by itself), placed on its node group by label,
ports published in host mode with DNS round-robin endpoints (no IPVS
needed), and the shared volume bound at /data and /home/data.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from clusterous.errors import InputError
from clusterous.formats import Component, Environment, Tunnel

GROUP_CONSTRAINT = "node.labels.clusterous.group == {group}"
ENV_LABEL = "clusterous.environment"
COMPONENT_LABEL = "clusterous.component"
VOLUME_TARGETS = ("/data", "/home/data")
MIN_AUTO_CPU = 0.05


@dataclass(frozen=True)
class ServiceSpec:
    """One component as a Swarm service."""

    name: str
    image: str
    group: str
    global_mode: bool
    replicas: int
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


def plan_deploy(environment: Environment, group_cpus: Mapping[str, float]) -> DeployPlan:
    """The services of ``environment`` in deploy order, for groups with these CPUs per node."""
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
        _service(environment, name, shares) for name in deploy_order(environment.components)
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


def _service(environment: Environment, name: str, shares: Mapping[str, float]) -> ServiceSpec:
    part = environment.components[name]
    return ServiceSpec(
        name=name,
        image=part.image,
        group=part.machine,
        global_mode=part.count == "auto",
        replicas=1 if part.count == "auto" else int(part.count),
        command=command_of(part.cmd),
        cpus=shares[name] if part.cpu == "auto" else float(part.cpu),
        memory_bytes=part.memory,
        ports=tunnel_ports(part, environment.tunnels, name),
        host_network=part.docker_network == "host",
        attach_volume=part.attach_volume,
        environment=dict(part.environment),
        depends=list(part.depends),
        labels={ENV_LABEL: environment.name, COMPONENT_LABEL: name},
    )
