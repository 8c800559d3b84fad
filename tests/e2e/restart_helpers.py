"""A running local cluster with busybox-web, and what must hold after its nodes restart.

Shared by the e2e tests that restart node containers (test_node_restart) and
the Docker engine itself (test_zz_engine_restart). The cluster (controller,
master-1, worker-1, worker-2) is made through the CLI and runs the offline
busybox-web example on a free local port. Every check is bounded polling on
an injected clock; only 127.0.0.1 and the cluster's own containers are
contacted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from clusterous.environments.tunnels import is_tunnel_process
from tests.e2e.cluster_helpers import (
    CliOnHome,
    nodes_by_name,
    remove_cluster_resources,
    unique_cluster_name,
)
from tests.e2e.helpers import REAL_CLOCK, Clock, exec_in, poll

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "environments" / "busybox-web"
NODES = ("controller", "master-1", "worker-1", "worker-2")
RECOVERY_TIMEOUT = 240.0  # generous: other tests share this engine and its CPUs
STOP_TIMEOUT = 30  # seconds docker gives systemd to stop cleanly before SIGKILL


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def example_with_busybox(target: Path, port: int) -> Path:
    """A copy of busybox-web with a static busybox beside its Dockerfile, on a free port."""
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("busybox"))
    script = REPO / "scripts" / "busybox-for-examples.sh"
    subprocess.run(["bash", str(script), str(target / "image")], check=True, capture_output=True)
    env_file = target / "env.yml"
    env_file.write_text(env_file.read_text().replace("8080:master", f"{port}:master"))
    return env_file


def page(port: int) -> tuple[bool, str]:
    """(answered 200, what was seen) for GET / on 127.0.0.1:port, one try."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
            return reply.status == 200, reply.read().decode(errors="replace")
    except OSError as error:
        return False, f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class RestartCluster:
    name: str
    cli: CliOnHome
    client: docker.DockerClient
    port: int  # the busybox-web tunnel's local port
    clock: Clock = REAL_CLOCK

    def container(self, node: str) -> docker.models.containers.Container:
        return self.client.containers.get(f"clusterous-{self.name}-{node}")

    def on(self, node: str, command: str) -> str:
        """A command run in the node through the engine (does not depend on SSH being back)."""
        result = exec_in(self.container(node), command)
        return result.stdout.strip() if result.status == 0 else f"[{result.explain()}]"

    def wait(self, expected: str, check: Callable[[], tuple[bool, object]]) -> float:
        _, seconds = poll(check, expected=expected, timeout=RECOVERY_TIMEOUT, clock=self.clock)
        print(f"  {expected}: {seconds:.1f} s")
        return seconds

    def address(self, node: str) -> str:
        """The node's address on the cluster network, as the engine gives it."""
        networks = self.container(node).attrs["NetworkSettings"]["Networks"]
        return str(networks[f"clusterous-{self.name}"]["IPAddress"])

    def ssh_port(self) -> str:
        return str(self.container("controller").ports.get("22/tcp"))

    def tunnel_pids(self) -> list[int]:
        ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True)
        return [
            int(line.split()[0])
            for line in ps.stdout.splitlines()
            if "tunnel_process" in line and self.name in line
        ]


@contextmanager
def busybox_cluster(
    client: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory, prefix: str
) -> Iterator[RestartCluster]:
    """A new cluster running busybox-web; destroyed, tunnels and all, at the end."""
    cli = CliOnHome(tmp_path_factory.mktemp("home"))
    port = free_port()
    env_file = example_with_busybox(tmp_path_factory.mktemp("apps") / "busybox-web", port)
    live = RestartCluster(unique_cluster_name(prefix), cli, client, port)
    try:
        cli.ok("create", "--name", live.name, "--workers", "2")
        cli.ok("run", str(env_file), "--cluster", live.name)
        yield live
    finally:
        cli("destroy", live.name, "--yes")
        for pid in live.tunnel_pids():
            if is_tunnel_process(pid):
                os.kill(pid, 15)
        remove_cluster_resources(client, live.name)


# --- what must hold after a restart --------------------------------------------------


def swarm_ready(
    cluster: RestartCluster, nodes: tuple[str, ...]
) -> Callable[[], tuple[bool, object]]:
    def check() -> tuple[bool, object]:
        result = cluster.cli("status", cluster.name, "--json")
        if result.returncode != 0:
            return False, result.output
        seen = {
            name: (node["state"], node["swarm"])
            for name, node in nodes_by_name(json.loads(result.stdout)).items()
        }
        return all(seen.get(n) == ("up", "ready") for n in nodes), seen

    return check


def services_back(cluster: RestartCluster, node: str) -> Callable[[], tuple[bool, object]]:
    """systemd brought back dockerd (and on the controller the registry); /etc/hosts names it."""
    controller_addr = cluster.address("controller")

    def check() -> tuple[bool, object]:
        seen = {
            "docker": cluster.on(node, "systemctl is-active docker"),
            "hosts": cluster.on(node, "grep -E '\\sregistry$' /etc/hosts"),
            "registry from here": cluster.on(
                node, "curl -sf -o /dev/null -w ok http://registry:5000/v2/"
            ),
            "failed units": cluster.on(node, "systemctl --failed --no-legend --plain"),
        }
        wanted = {
            "docker": "active",
            "hosts": f"{controller_addr} registry",
            "registry from here": "ok",
            "failed units": "",
        }
        if node == "controller":
            seen["docker-registry"] = cluster.on(node, "systemctl is-active docker-registry")
            wanted["docker-registry"] = "active"
        return seen == wanted, seen

    return check


def running_tasks(cluster: RestartCluster, service: str) -> list[tuple[str, str]]:
    """(task id, node) of the service's tasks that run now, as the controller sees them."""
    out = cluster.on(
        "controller",
        f"docker service ps {service} --no-trunc --filter desired-state=running "
        "--format '{{.ID}} {{.Node}} {{.CurrentState}}'",
    )
    return [
        (line.split()[0], line.split()[1])
        for line in out.splitlines()
        if re.match(r"^\S+ \S+ Running ", line)
    ]


def worker_tasks_on_both_workers(cluster: RestartCluster) -> set[str]:
    """The ids of the count:auto service's running tasks, once there is one on each worker."""
    seen: list[tuple[str, str]] = []

    def check() -> tuple[bool, object]:
        seen[:] = running_tasks(cluster, "worker")
        return {node for _, node in seen} == {"worker-1", "worker-2"}, list(seen)

    cluster.wait("a task of the count:auto service running on each worker", check)
    return {task for task, _ in seen}


def new_task_on(
    cluster: RestartCluster, service: str, node: str, before: set[str]
) -> Callable[[], tuple[bool, object]]:
    def check() -> tuple[bool, object]:
        tasks = running_tasks(cluster, service)
        return any(n == node and t not in before for t, n in tasks), tasks

    return check


def tunnel_answers(cluster: RestartCluster) -> Callable[[], tuple[bool, object]]:
    def check() -> tuple[bool, object]:
        ok, seen = page(cluster.port)
        return ok and "busybox-web" in seen, seen[-400:]

    return check
