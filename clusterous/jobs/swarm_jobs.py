"""A job's rounds as ``replicated-job`` services on the controller's Swarm: create, read, remove.

One service create per round, whatever its size: Swarm makes the tasks and
queues those that do not fit the CPU and memory reservations until a node has
room. The reservations, not a count, are what limit a node; MaxConcurrent
only bounds the queue Swarm holds (see ``concurrency``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clusterous.engine.swarm import in_sequence
from clusterous.environments.deploy import VOLUME_TARGETS
from clusterous.formats.fields import parse_array
from clusterous.jobs.spec import (
    COMMAND_LABEL,
    CPUS_LABEL,
    GROUP_LABEL,
    INDICES_LABEL,
    JOB_ID_LABEL,
    JOB_NAME_LABEL,
    RETRIES_LABEL,
    ROUND_LABEL,
    SUBMITTED_LABEL,
    WRAPPER,
    JobRound,
    compact,
    round_variables,
)

if TYPE_CHECKING:
    import docker

# Tasks of a round Swarm holds queued beyond what the group's nodes run at once, for
# nodes that join while the round runs (add-nodes, ``jobs wait --autoscale``).
QUEUE_WINDOW = 128


@dataclass(frozen=True)
class RoundView:
    """A round read back from its service's labels."""

    job_id: str
    name: str
    number: int
    service: str
    indices: tuple[int, ...]
    command: str
    submitted_at: float
    retries: int
    group: str
    cpus: float | None
    image: str

    @classmethod
    def of(cls, service: Any) -> RoundView:
        spec = service.attrs.get("Spec", {})
        labels = spec.get("Labels") or {}
        image = spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", "")
        return cls(
            job_id=labels[JOB_ID_LABEL],
            name=labels.get(JOB_NAME_LABEL, ""),
            number=int(labels.get(ROUND_LABEL, "0")),
            service=spec.get("Name", service.name),
            indices=tuple(parse_array(labels.get(INDICES_LABEL, "0"))),
            command=labels.get(COMMAND_LABEL, ""),
            submitted_at=float(labels.get(SUBMITTED_LABEL, "0")),
            retries=int(labels.get(RETRIES_LABEL, "0")),
            group=labels.get(GROUP_LABEL, ""),
            cpus=float(labels[CPUS_LABEL]) if labels.get(CPUS_LABEL) else None,
            image=image.split("@")[0],
        )


def concurrency(size: int, slots: int) -> int:
    """MaxConcurrent of a round of ``size`` tasks on nodes that run ``slots`` at once.

    Swarm's scheduler writes every queued task back to its raft log on each
    pass (each time a task ends), and keeps the last entries in memory: with
    the whole of a 1,000-task round queued, the controller's dockerd grew by
    1 MB per finished task until the kernel killed it at 2 GB. Held to what
    runs plus QUEUE_WINDOW, the queue stays small, and Swarm makes the next
    tasks as earlier ones finish, slot by slot (each slot, each index, once).
    """
    return max(1, min(size, slots + QUEUE_WINDOW))


def create_round(client: docker.DockerClient, job: JobRound, slots: int) -> None:
    """The round's service; ``slots``: how many of its tasks the group runs at once."""
    from docker.types import Mount, Resources, RestartPolicy, ServiceMode

    request = job.request
    size = len(job.indices)
    client.services.create(
        job.image,
        args=["/bin/sh", "-c", WRAPPER],
        name=job.service,
        labels=job.labels(),
        container_labels={JOB_ID_LABEL: job.job_id},
        mode=ServiceMode("replicated-job", size, concurrency=concurrency(size, slots)),
        constraints=[job.constraint],
        mounts=[Mount(t, "/data", type="bind") for t in VOLUME_TARGETS],
        resources=Resources(
            cpu_reservation=round(request.cpus * 1e9) if request.cpus else None,
            mem_reservation=request.memory_bytes,
        ),
        # The wrapper retries; Swarm's re-run of a failed task reads the recorded outcome.
        restart_policy=RestartPolicy(condition="none"),
        env=[f"{k}={v}" for k, v in job.environment().items()],
        workdir=request.workdir,
        init=True,  # signals reach the command: cancel stops it at once
    )


def create_retry(
    client: docker.DockerClient, base: Any, number: int, indices: list[int], slots: int
) -> str:
    """A new round of the job whose first service is ``base``: the same task, other indices."""
    from docker.types import ServiceMode

    spec = base.attrs["Spec"]
    template = dict(spec["TaskTemplate"])
    container = dict(template["ContainerSpec"])
    service = f"{spec['Labels'][JOB_ID_LABEL]}-r{number}"
    kept = [
        e
        for e in container.get("Env") or []
        if e.split("=", 1)[0] not in ("CLUSTEROUS_JOB_ROUND", "CLUSTEROUS_JOB_FIRST")
        and e.split("=", 1)[0] != "CLUSTEROUS_JOB_INDICES"
    ]
    fresh = round_variables(service, tuple(indices))
    container["Env"] = kept + [f"{k}={v}" for k, v in fresh.items()]
    template["ContainerSpec"] = container
    labels = {**spec["Labels"], ROUND_LABEL: str(number), INDICES_LABEL: compact(indices)}
    client.api.create_service(
        template,
        name=service,
        labels=labels,
        mode=ServiceMode(
            "replicated-job", len(indices), concurrency=concurrency(len(indices), slots)
        ),
    )
    return service


def job_services(client: docker.DockerClient, job_id: str | None = None) -> list[Any]:
    wanted = f"{JOB_ID_LABEL}={job_id}" if job_id else JOB_ID_LABEL
    return list(client.services.list(filters={"label": wanted}))


def rounds(client: docker.DockerClient, job_id: str | None = None) -> dict[str, list[RoundView]]:
    """job id -> its rounds, oldest first."""
    found: dict[str, list[RoundView]] = {}
    for service in job_services(client, job_id):
        view = RoundView.of(service)
        found.setdefault(view.job_id, []).append(view)
    for views in found.values():
        views.sort(key=lambda v: v.number)
    return found


def round_tasks(
    client: docker.DockerClient, services: list[str]
) -> dict[str, list[dict[str, Any]]]:
    return {name: list(client.api.tasks(filters={"service": name})) for name in services}


# Removing a job's service leaves its running tasks running (Engine 20.10): a forced
# update to a placement no node has first tells them to go, and starts nothing new.
NOWHERE = "node.labels.clusterous.job-cancelled == true"


def remove(
    client: docker.DockerClient,
    job_id: str,
    deadline: float,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Stop the job's running tasks, wait for them to end, then remove its services."""
    import docker as docker_sdk

    services = job_services(client, job_id)
    for service in services:
        with suppress(docker_sdk.errors.NotFound):
            _park(client, service)
    names = [s.name for s in services]
    while _still_running(client, names) and time.monotonic() < deadline:
        sleep(0.5)
    removed = []
    for service in services:
        with suppress(docker_sdk.errors.NotFound):
            service.remove()
            removed.append(service.name)
    return removed


def _park(client: docker.DockerClient, service: Any) -> None:
    """The spec sent whole: the daemon refuses the update settings it reports for a job.
    At the service's current version: its status moves it on as its tasks end."""

    def update() -> None:
        current = client.services.get(service.id)
        spec = current.attrs["Spec"]
        template = dict(spec["TaskTemplate"])
        template["Placement"] = {"Constraints": [NOWHERE]}
        template["ForceUpdate"] = template.get("ForceUpdate", 0) + 1
        client.api.update_service(
            current.id,
            current.version,
            task_template=template,
            name=spec["Name"],
            labels=spec.get("Labels") or {},
            mode=spec["Mode"],
        )

    in_sequence(update, time.sleep)


def _still_running(client: docker.DockerClient, services: list[str]) -> bool:
    busy = ("assigned", "accepted", "preparing", "ready", "starting", "running")
    tasks = round_tasks(client, services)
    return any(t.get("Status", {}).get("State") in busy for found in tasks.values() for t in found)
