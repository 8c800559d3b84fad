"""A job request checked against the cluster before anything is made (each refusal exit 2).

The group must exist; a task's CPUs must fit on one of the group's nodes as
Swarm sees them (else its tasks would wait for ever), and the message names
the instance types that would fit, from the provider's catalog; the image must
be in the cluster registry or pullable, as for ``run``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from clusterous.engine.swarm import GROUP_LABEL
from clusterous.errors import InputError, NotFoundError

if TYPE_CHECKING:
    import docker

    from clusterous.providers.base import Catalog
    from clusterous.records import ClusterState

REGISTRY = "registry:5000"


def choose_group(state: ClusterState, group: str | None) -> str:
    """The named group, or 'worker' when there is one, or the only group."""
    groups = sorted(state.node_groups())
    if group is not None and group not in groups:
        raise NotFoundError(
            f"cluster {state.name!r} has no node group {group!r}",
            f"its groups are: {', '.join(groups) or 'none'}",
            f"pick one with --group, or add nodes: 'clusterous add-nodes 1 {group}'",
        )
    if group is not None:
        return group
    if "worker" in groups or len(groups) != 1:
        if "worker" not in groups:
            raise InputError(
                "say which node group runs the job",
                f"cluster {state.name!r} has several and none is 'worker': {', '.join(groups)}",
                "add --group GROUP",
            )
        return "worker"
    return groups[0]


def group_cpus(client: docker.DockerClient, group: str) -> list[float]:
    """The CPUs of the group's nodes that Swarm can place tasks on."""
    cpus = []
    for node in client.nodes.list():
        spec = node.attrs.get("Spec", {})
        if (spec.get("Labels") or {}).get(GROUP_LABEL) != group:
            continue
        if spec.get("Availability") != "active":
            continue
        nano = node.attrs.get("Description", {}).get("Resources", {}).get("NanoCPUs", 0)
        cpus.append(nano / 1e9)
    return cpus


def slots(nodes: list[float], cpus: float | None) -> int:
    """How many of a job's tasks nodes of these CPUs run at once: ⌊CPUs ÷ cpus⌋ on each,
    or one per CPU for a task that reserves none."""
    if cpus is None:
        return sum(max(1, round(n)) for n in nodes)
    return sum(math.floor(n / cpus + 1e-9) for n in nodes)


def check_cpus(
    client: docker.DockerClient,
    catalog: Catalog,
    state: ClusterState,
    group: str,
    cpus: float | None,
) -> list[float]:
    """The CPUs of the group's nodes, once a task of ``cpus`` fits on one of them."""
    if cpus is not None and cpus <= 0:
        raise InputError(f"--cpus must be more than 0, got {cpus:g}")
    nodes = group_cpus(client, group)
    if cpus is None or not nodes or cpus <= max(nodes) + 1e-9:
        return nodes
    fitting = sorted(
        (t for t in catalog.instance_types().values() if t.cpus >= cpus), key=lambda t: t.cpus
    )
    types = ", ".join(f"{t.name} ({t.cpus:g} CPUs)" for t in fitting[:5])
    current = sorted({n.instance_type for n in state.node_groups().get(group, [])})
    raise InputError(
        f"--cpus {cpus:g} is more than any node of group {group!r} has "
        f"(at most {max(nodes):g} CPUs, type {', '.join(current)})",
        f"types that would fit: {types}" if types else "no instance type has that many CPUs",
        f"ask for at most {max(nodes):g} CPUs"
        + (
            f", or add bigger nodes: 'clusterous add-nodes 1 {group} --type {fitting[0].name}'"
            if fitting
            else ""
        ),
    )


def resolve_image(client: docker.DockerClient, image: str, defaulted: bool) -> str:
    """The image as given when the registry (or a pull) knows it, else registry:5000/IMAGE."""
    from clusterous.environments.images import registry_digest

    candidates = [image]
    if not image.startswith(REGISTRY + "/") and "/" not in image.split(":")[0]:
        candidates.append(f"{REGISTRY}/{image}")
    for candidate in candidates:
        if registry_digest(client, candidate) is not None:
            return candidate
    raise InputError(
        f"image {image} is neither in the cluster registry nor pullable"
        + (" (the default image, since no --image was given)" if defaulted else ""),
        "the controller's engine could not find it",
        "build one into the cluster registry with 'clusterous build-image DIR NAME' and "
        "pass --image NAME; check the spelling",
    )
