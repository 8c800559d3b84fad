"""The local provider's view of this machine: its Docker engine, its resolvers, a free port."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError

if TYPE_CHECKING:
    import docker


def connect_docker() -> docker.DockerClient:
    """The user's Docker engine, or an error that says how to get one running."""
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except docker.errors.DockerException as problem:
        raise docker_unavailable(str(problem)) from problem


def docker_unavailable(detail: str) -> ClusterousError:
    if shutil.which("docker") is None and shutil.which("dockerd") is None:
        return ClusterousError(
            "Docker is not installed on this machine",
            "the local provider runs the cluster's nodes as Docker containers",
            "install Docker Engine (Debian/Ubuntu: sudo apt-get install docker.io; macOS or "
            "Windows: Docker Desktop), start it, and run the command again",
        )
    return ClusterousError(
        "cannot reach the Docker engine",
        detail.splitlines()[0][:200] if detail else "it does not answer",
        "start it (Linux: sudo systemctl start docker, or 'make docker' in a clusterous "
        "checkout; Docker Desktop: open it), and check that you may use it ('docker info')",
    )


def host_nameservers(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[str]:
    """Upstream resolvers for the nodes' inner dockerd (a loopback one is useless there)."""
    candidates = [resolv_conf, Path("/run/systemd/resolve/resolv.conf")]
    for path in candidates:
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        servers = [
            line.split()[1]
            for line in lines
            if line.startswith("nameserver") and len(line.split()) > 1
        ]
        usable = [s for s in servers if not s.startswith("127.") and s != "::1"]
        if usable:
            return usable
    return []


def free_local_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the controller's SSH)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
