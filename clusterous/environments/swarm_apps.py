"""An environment's services on the controller's Swarm: create, watch, remove.

The plan (``deploy.ServiceSpec``) is applied with the docker SDK on the
controller's engine. Waiting watches every task: a task that fails or is
rejected ends the wait at once with its error and the component's last log
lines, instead of waiting out the timeout. After the cluster grew or shrank,
:func:`replan_auto_counts` sets each ``count: auto`` service's task count
again from the nodes its group has now.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clusterous import cancel
from clusterous.engine.swarm import GROUP_LABEL, NODE_LABEL, in_sequence
from clusterous.environments.deploy import (
    COMPONENT_LABEL,
    COUNT_AUTO_LABEL,
    ENV_LABEL,
    SERVICE_GROUP_LABEL,
    VOLUME_TARGETS,
    ServiceSpec,
    auto_count,
    auto_reservation,
)
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


def node_cpus(client: docker.DockerClient) -> dict[str, list[float]]:
    """The CPUs of every ready, active node, by group (what ``count: auto`` divides)."""
    cpus: dict[str, list[float]] = {}
    for node in client.nodes.list():
        attrs = node.attrs
        spec = attrs.get("Spec", {})
        group = (spec.get("Labels") or {}).get(GROUP_LABEL)
        ready = attrs.get("Status", {}).get("State") == "ready"
        if not group or not ready or spec.get("Availability") != "active":
            continue
        nano = attrs.get("Description", {}).get("Resources", {}).get("NanoCPUs", 0)
        cpus.setdefault(group, []).append(nano / 1e9)
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
        mode=ServiceMode("replicated", spec.replicas),
        constraints=[spec.constraint],
        maxreplicas=spec.max_per_node or None,
        endpoint_spec=EndpointSpec(mode="dnsrr", ports=ports or None),
        networks=["host"] if spec.host_network else [network],
        mounts=mounts if spec.attach_volume else [],
        resources=Resources(cpu_reservation=spec.nano_cpus, mem_limit=spec.memory_bytes),
        env=[f"{k}={v}" for k, v in {**TASK_ENVIRONMENT, **spec.environment}.items()],
        init=True,  # signals reach the command, so a component stops at once
        hosts=central_logging_host(client),
    )


def central_logging_host(client: docker.DockerClient) -> dict[str, str]:
    """Clusterous 1.0's syslog name, ``central_logging``: the controller (rsyslog on 5514)."""
    address = client.info().get("Swarm", {}).get("NodeAddr", "")
    return {"central_logging": address} if address else {}


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


@dataclass(frozen=True)
class Replanned:
    """A ``count: auto`` service whose task count followed its group's nodes."""

    component: str
    group: str
    before: int
    after: int


def replan_auto_counts(client: docker.DockerClient) -> list[Replanned]:
    """Set every ``count: auto`` service's tasks again from the nodes its group has now."""
    cpus = node_cpus(client)
    changed = []
    for service in services_of(client):
        spec = service.attrs.get("Spec", {})
        labels = spec.get("Labels") or {}
        if COUNT_AUTO_LABEL not in labels:
            continue
        group = labels.get(SERVICE_GROUP_LABEL, "")
        nodes = cpus.get(group, [])
        rule = labels[COUNT_AUTO_LABEL]
        count = auto_count(nodes, None if rule == "auto" else float(rule))
        before = spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 0)
        placement = spec.get("TaskTemplate", {}).get("Placement", {})
        if (before, placement.get("MaxReplicas")) == (count.replicas, count.per_node):
            continue
        template: dict[str, Any] = {"Placement": {**placement, "MaxReplicas": count.per_node}}
        if rule != "auto" and nodes:
            resources = spec.get("TaskTemplate", {}).get("Resources", {})
            reserved = round(auto_reservation(nodes, float(rule)) * 1e9)
            reservations = {**resources.get("Reservations", {}), "NanoCPUs": reserved}
            template["Resources"] = {**resources, "Reservations": reservations}
        _rescale(client, service, count.replicas, template)
        changed.append(Replanned(service.name, group, before, count.replicas))
    return changed


def _rescale(
    client: docker.DockerClient, service: Any, replicas: int, template: dict[str, Any]
) -> None:
    """At the service's current version: a rollout that completes moves it on."""
    from docker.types import ServiceMode

    def update() -> None:
        current = client.services.get(service.id)
        client.api.update_service(
            current.id,
            current.version,
            mode=ServiceMode("replicated", replicas),
            task_template=template,
            fetch_current_spec=True,
        )

    in_sequence(update, time.sleep)


SETTLE_SECONDS = 1.0


def wait_running(
    client: docker.DockerClient,
    spec: ServiceSpec | Replanned,
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
    name, desired = _wanted(spec)
    last: Progress | None = None
    settled: tuple[float, frozenset[str]] | None = None  # when, and which tasks, ran
    while True:
        views = tasks(client, name, names)
        _raise_on_crash(client, name, views)
        running = sum(1 for t in views if t.state == "running" and t.desired == "running")
        progress = Progress(name, running, desired)
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
            raise _timed_out(spec.group, progress, views)
        sleep(0.3)


def wait_rescheduled(
    client: docker.DockerClient,
    deadline: float,
    on_progress: Callable[[Progress], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Until every environment service runs as many tasks as it wants (after a start).

    Tasks that ended when their nodes stopped stay listed as failed or
    shut down; only the tasks Swarm wants running now are counted.
    """
    told: dict[str, Progress] = {}
    while True:
        waiting = []
        for service in services_of(client):
            mode = service.attrs.get("Spec", {}).get("Mode", {})
            wanted = [t for t in service.tasks() if t.get("DesiredState") == "running"]
            running = sum(1 for t in wanted if t.get("Status", {}).get("State") == "running")
            desired = mode["Replicated"].get("Replicas", 0) if "Replicated" in mode else len(wanted)
            progress = Progress(service.name, running, desired)
            if told.get(service.name) != progress:
                told[service.name] = progress
                on_progress(progress)
            if running < desired or (desired == 0 and "Replicated" not in mode):
                waiting.append(progress)
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise ClusterousError(
                "the environment's services did not run again in time",
                ", ".join(f"{p.component}: {p.running}/{p.desired} running" for p in waiting),
                "raise --timeout, or see 'clusterous status' and 'clusterous logs COMPONENT'",
            )
        sleep(0.5)


def _wanted(spec: ServiceSpec | Replanned) -> tuple[str, int]:
    if isinstance(spec, Replanned):
        return spec.component, spec.after
    return spec.name, spec.replicas


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


def _timed_out(group: str, progress: Progress, views: list[TaskView]) -> ClusterousError:
    waiting = sorted(
        {f"{t.node or 'unassigned'}: {t.state}" for t in views if t.state != "running"}
    )
    why = f"{progress.running}/{progress.desired} running"
    if progress.desired == 0:
        why = f"no ready node in group {group!r} to run it on"
    return ClusterousError(
        f"component {progress.component!r} did not start in time",
        why + (f" ({', '.join(waiting[:5])})" if waiting else ""),
        f"raise --timeout, or check 'clusterous status' and 'clusterous logs {progress.component}'",
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


# A task Swarm is still bringing up: after a node or an engine restart, say.
STARTING_STATES = frozenset(
    ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting")
)
TASK_START_WAIT = 60.0  # seconds a tunnel waits for its component's task to start
TASK_POLL_SECONDS = 0.5


def component_address(
    client: docker.DockerClient,
    component: str,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = cancel.sleep,
) -> str:
    """The address of a node that runs ``component`` (seen from the controller).

    A task Swarm is still starting is waited for, up to TASK_START_WAIT seconds;
    a component with none running or starting is an error at once.
    """
    deadline = clock() + TASK_START_WAIT
    while True:
        tasks = client.api.tasks(filters={"service": component, "desired-state": "running"})
        states = [t.get("Status", {}).get("State") for t in tasks]
        running = [t for t, state in zip(tasks, states, strict=True) if state == "running"]
        if running:
            break
        if not STARTING_STATES.intersection(states) or clock() >= deadline:
            raise ClusterousError(
                f"component {component!r} has no running task to open a tunnel to",
                f"its tasks are {', '.join(sorted(set(map(str, states))))}" if states else None,
                f"see 'clusterous status' and 'clusterous logs {component}'",
            )
        sleep(TASK_POLL_SECONDS)
    node_ids = sorted(t["NodeID"] for t in running)
    return str(client.nodes.get(node_ids[0]).attrs["Status"]["Addr"])
