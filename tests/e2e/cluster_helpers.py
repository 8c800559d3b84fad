"""Driving the real ``clusterous`` CLI against the real Docker engine, for e2e tests.

Every cluster a test makes has a unique name; at the end the test removes
exactly what carries that cluster's label, and asserts that nothing of it is
left. Nothing else on the engine is touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

CLUSTER_LABEL = "clusterous.cluster"


def unique_cluster_name(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class CliOnHome:
    """The clusterous CLI, as a separate process, on one CLUSTEROUS_HOME."""

    home: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "CLUSTEROUS_HOME": str(self.home), "NO_COLOR": "1", "COLUMNS": "200"}

    def __call__(self, *args: str, timeout: float = 600) -> Run:
        done = subprocess.run(
            [sys.executable, "-m", "clusterous", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, timeout: float = 600) -> Run:
        result = self(*args, timeout=timeout)
        assert result.returncode == 0, f"clusterous {' '.join(args)} failed:\n{result.output}"
        return result

    def status(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self.ok("status", name, "--json").stdout))

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "clusterous", *args],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
        )


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
