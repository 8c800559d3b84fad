"""Driving the real ``clusterous`` CLI against the real Docker engine, for e2e tests.

Every cluster a test makes has a unique name; at the end the test removes
exactly what carries that cluster's label, and asserts that nothing of it is
left. Nothing else on the engine is touched.
"""

from __future__ import annotations

import uuid
from typing import Any

import docker

from tests.cli_process import CliOnHome, Run

__all__ = ["CliOnHome", "Run"]  # e2e tests take the CLI runner from here

CLUSTER_LABEL = "clusterous.cluster"


def unique_cluster_name(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def labelled(client: docker.DockerClient, cluster: str) -> list[str]:
    """Everything on the engine that carries the cluster's label, sorted (listings vary)."""
    selector = {"label": f"{CLUSTER_LABEL}={cluster}"}
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters=selector)]
    found += [f"network {n.name}" for n in client.networks.list(filters=selector)]
    found += [f"volume {v.name}" for v in client.volumes.list(filters=selector)]
    return sorted(found)


def remove_cluster_resources(client: docker.DockerClient, cluster: str) -> None:
    """Last-resort cleanup of one test cluster, by its label only."""
    selector = {"label": f"{CLUSTER_LABEL}={cluster}"}
    for container in client.containers.list(all=True, filters=selector):
        container.remove(force=True, v=True)
    for network in client.networks.list(filters=selector):
        network.remove()
    for volume in client.volumes.list(filters=selector):
        volume.remove(force=True)


def nodes_by_name(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["name"]: node for node in status["nodes"]}
