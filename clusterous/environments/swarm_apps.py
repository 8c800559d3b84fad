"""An environment's services on the controller's Swarm: create, watch, remove.

The plan (``deploy.ServiceSpec``) is applied with the docker SDK on the
controller's engine. Waiting watches every task: a task that fails or is
rejected ends the wait at once with its error and the component's last log
lines, instead of waiting out the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clusterous.engine.swarm import GROUP_LABEL, NODE_LABEL
from clusterous.environments.deploy import COMPONENT_LABEL, ENV_LABEL, VOLUME_TARGETS, ServiceSpec
from clusterous.errors import ClusterousError

if TYPE_CHECKING:
    import docker

CLUSTER_VOLUME = "/data"
FAILED_STATES = ("failed", "rejected")
# Swarm fills these templates in per task: a component knows where it runs.
TASK_ENVIRONMENT = {
    "CLUSTEROUS_NODE": "{{.Node.Hostname}}",
    "CLUSTEROUS_TASK_SLOT": "{{.Task.Slot}}",
}


class ComponentFailed(ClusterousError):
    """A component's task crashed or was refused while starting."""


@dataclass(frozen=True)
class TaskView:
    id: str
    node: str  # the clusterous node name (worker-1), else the Swarm hostname
    state: str
    desired: str
    error: str
    container_id: str


@dataclass(frozen=True)
class Progress:
    component: str
    running: int
    desired: int


def group_cpus(client: docker.DockerClient) -> dict[str, float]:
    """CPUs of the smallest ready node of each group (what ``cpu: auto`` shares)."""
    cpus: dict[str, float] = {}
    for node in client.nodes.list():
        attrs = node.attrs
        group = (attrs.get("Spec", {}).get("Labels") or {}).get(GROUP_LABEL)
        if not group or attrs.get("Status", {}).get("State") != "ready":
            continue
        nano = attrs.get("Description", {}).get("Resources", {}).get("NanoCPUs", 0)
        cpus[group] = min(cpus.get(group, float("inf")), nano / 1e9)
    return cpus


def node_names(client: docker.DockerClient) -> dict[str, str]:
    """Swarm node id -> clusterous node name."""
    names = {}
    for node in client.nodes.list():
        labels = node.attrs.get("Spec", {}).get("Labels") or {}
        hostname = node.attrs.get("Description", {}).get("Hostname", node.id)
        names[node.id] = labels.get(NODE_LABEL, hostname)
    return names


def ensure_network(client: docker.DockerClient, name: str, environment: str) -> None:
    """An attachable overlay network, so components reach each other by name."""
    if client.networks.list(names=[name]):
        return
    client.networks.create(name, driver="overlay", attachable=True, labels={ENV_LABEL: environment})


def create_service(client: docker.DockerClient, spec: ServiceSpec, network: str) -> None:
    from docker.types import EndpointSpec, Mount, Resources, ServiceMode

    mounts = [Mount(t, CLUSTER_VOLUME, type="bind") for t in VOLUME_TARGETS]
    ports = {published: (target, "tcp", "host") for published, target in spec.ports}
    client.services.create(
        spec.image,
        args=spec.command,
        name=spec.name,
        labels=spec.labels,
        container_labels=spec.labels,
        mode=ServiceMode("global")
        if spec.global_mode
        else ServiceMode("replicated", spec.replicas),
        constraints=[spec.constraint],
        endpoint_spec=EndpointSpec(mode="dnsrr", ports=ports or None),
        networks=["host"] if spec.host_network else [network],
        mounts=mounts if spec.attach_volume else [],
        resources=Resources(cpu_reservation=spec.nano_cpus, mem_limit=spec.memory_bytes),
        env=[f"{k}={v}" for k, v in {**TASK_ENVIRONMENT, **spec.environment}.items()],
        init=True,  # signals reach the command, so a component stops at once
    )


def services_of(client: docker.DockerClient, environment: str | None = None) -> list[Any]:
    wanted = f"{ENV_LABEL}={environment}" if environment else ENV_LABEL
    return list(client.services.list(filters={"label": wanted}))


def remove_environment(
    client: docker.DockerClient,
    environment: str | None,
    network: str | None,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Remove the environment's services (all environments' when None) and wait for their
    containers to stop; then its network. Returns the removed component names."""
    removed = []
    for service in services_of(client, environment):
        removed.append(service.name)
        service.remove()
    while _leftover_tasks(client, environment) and time.monotonic() < deadline:
        sleep(0.3)
    if network:
        for found in client.networks.list(names=[network]):
            found.remove()
    return removed


def _leftover_tasks(client: docker.DockerClient, environment: str | None) -> bool:
    label = f"{ENV_LABEL}={environment}" if environment else ENV_LABEL
    containers = client.api.tasks(filters={"label": label})
    return any(t.get("Status", {}).get("State") in ("running", "starting") for t in containers)


def tasks(client: docker.DockerClient, component: str, names: dict[str, str]) -> list[TaskView]:
    found = []
    for task in client.api.tasks(filters={"service": component}):
        status = task.get("Status", {})
        found.append(
            TaskView(
                id=task["ID"],
                node=names.get(task.get("NodeID", ""), task.get("NodeID", "")),
                state=status.get("State", ""),
                desired=task.get("DesiredState", ""),
                error=status.get("Err", ""),
                container_id=status.get("ContainerStatus", {}).get("ContainerID", ""),
            )
        )
    return found


def eligible_nodes(client: docker.DockerClient, group: str) -> int:
    """How many nodes a global service on ``group`` should run on."""
    count = 0
    for node in client.nodes.list():
        attrs = node.attrs
        ready = attrs.get("Status", {}).get("State") == "ready"
        active = attrs.get("Spec", {}).get("Availability") == "active"
        labels = attrs.get("Spec", {}).get("Labels") or {}
        count += ready and active and labels.get(GROUP_LABEL) == group
    return count


SETTLE_SECONDS = 1.0


def wait_running(
    client: docker.DockerClient,
    spec: ServiceSpec,
    deadline: float,
    on_progress: Callable[[Progress], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Until every task of the component runs, and still does a moment later; a crash ends it.

    Swarm reports a task "running" for a moment after its container has
    already exited (a command that fails at once): only the same tasks seen
    running again SETTLE_SECONDS later count as started.
    """
    names = node_names(client)
    last: Progress | None = None
    settled: tuple[float, frozenset[str]] | None = None  # when, and which tasks, ran
    while True:
        desired = eligible_nodes(client, spec.group) if spec.global_mode else spec.replicas
        views = tasks(client, spec.name, names)
        _raise_on_crash(client, spec.name, views)
        running = sum(1 for t in views if t.state == "running" and t.desired == "running")
        progress = Progress(spec.name, running, desired)
        if progress != last:
            on_progress(progress)
            last = progress
        if running >= desired and desired > 0:
            ids = frozenset(t.id for t in views if t.state == "running")
            if settled is None or settled[1] != ids:
                settled = (time.monotonic(), ids)
            elif time.monotonic() - settled[0] >= SETTLE_SECONDS:
                return
        else:
            settled = None
        if time.monotonic() >= deadline:
            raise _timed_out(spec, progress, views)
        sleep(0.3)


def _raise_on_crash(client: docker.DockerClient, component: str, views: list[TaskView]) -> None:
    crashed = [t for t in views if t.state in FAILED_STATES]
    if not crashed:
        return
    task = crashed[0]
    lines = log_tail(client, component, 15)
    output = ("\n    last output:\n" + "\n".join(f"    {x}" for x in lines)) if lines else ""
    raise ComponentFailed(
        f"component {component!r} failed to start on {task.node}",
        f"{task.state}: {task.error or 'no error given'}{output}",
        f"see 'clusterous logs {component}'; fix its image or cmd and run again",
    )


def _timed_out(spec: ServiceSpec, progress: Progress, views: list[TaskView]) -> ClusterousError:
    waiting = sorted(
        {f"{t.node or 'unassigned'}: {t.state}" for t in views if t.state != "running"}
    )
    why = f"{progress.running}/{progress.desired} running"
    if progress.desired == 0:
        why = f"no ready node in group {spec.group!r} to run it on"
    return ClusterousError(
        f"component {spec.name!r} did not start in time",
        why + (f" ({', '.join(waiting[:5])})" if waiting else ""),
        "raise --timeout, or check 'clusterous status' and 'clusterous logs " + spec.name + "'",
    )


def log_tail(client: docker.DockerClient, component: str, lines: int) -> list[str]:
    """The last lines a component wrote, from every task."""
    import docker as docker_sdk

    try:
        raw = client.api.service_logs(component, stdout=True, stderr=True, tail=lines)
        text = b"".join(raw).decode(errors="replace")
    except docker_sdk.errors.APIError:
        return []
    return text.splitlines()[-lines:]


def component_labels(service: Any) -> tuple[str, str]:
    labels = service.attrs.get("Spec", {}).get("Labels") or {}
    return labels.get(ENV_LABEL, ""), labels.get(COMPONENT_LABEL, service.name)
