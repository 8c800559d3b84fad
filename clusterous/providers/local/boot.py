"""Node containers that die while they boot, and the host limit that most often kills them.

A node container runs systemd, and systemd, journald, udev, the node's own
dockerd and containerd each open inotify instances, all of them root's on the
host. When the kernel's per-user limit (``fs.inotify.max_user_instances``, 128
on Debian) is used up, systemd in the next node cannot allocate its manager
("Failed to allocate manager object: Too many open files"), exits 255, and the
engine restarts the container again and again. The manager's wait would see
nothing but a node that never answers; ``container_failure`` tells it at once,
with the container's last lines, and ``InotifyRoom`` refuses a create or
add-nodes that would not fit before anything is made.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError
from clusterous.providers.base import BootFailure

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

LOG_LINES = 12
MAX_USER_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
# Measured 2026-12-03 with `find /proc/[0-9]*/fd -lname anon_inode:inotify` in a node:
# 8 in a controller while it configures itself (7 once configured: systemd, journald,
# udevd, dockerd, containerd, ...), 6 in a worker while it boots, 5 once it runs. Where
# /proc says what root holds (the CLI runs as root), that count replaces the estimate of
# the running ones; the estimate alone lets 14 nodes run with Debian's 128, where the
# failure was seen at about 20.
INOTIFY_PER_NODE = 8
INOTIFY_HOST_RESERVE = 16  # the host's own root processes (8 measured): systemd, udevd, ...
INOTIFY_FIX = (
    "raise the limit: 'sudo sysctl -w fs.inotify.max_user_instances=1024', and keep it across "
    "reboots with 'echo fs.inotify.max_user_instances=1024 | sudo tee "
    "/etc/sysctl.d/60-clusterous-inotify.conf'"
)
INOTIFY_SIGNS = ("Too many open files", "inotify")  # what systemd logs when none is left


def node_failures(
    client: docker.DockerClient, containers: dict[str, str]
) -> dict[str, BootFailure]:
    """The nodes (name -> container name) whose container died or is gone, with why."""
    import docker

    found: dict[str, BootFailure] = {}
    for node, name in containers.items():
        try:
            failure = container_failure(client.containers.get(name))
        except docker.errors.NotFound:
            failure = BootFailure("gone", f"its container {name} no longer exists")
        if failure is not None:
            found[node] = failure
    return found


def engine_on_this_host(client: docker.DockerClient) -> bool:
    """Whether the engine listens on a unix socket here (not over TCP or SSH elsewhere)."""
    return str(client.api.base_url) == "http+docker://localhost"


def running_nodes(client: docker.DockerClient) -> int:
    """Node containers running on the engine, of every cluster (each holds inotify instances)."""
    running = client.containers.list(filters={"label": "clusterous.node", "status": "running"})
    return len(running)


def container_failure(container: Container) -> BootFailure | None:
    """Why a booting node container died (exited, or restarted by the engine), or None."""
    state = container.attrs.get("State", {})
    status = str(state.get("Status", container.status))
    restarts = int(container.attrs.get("RestartCount", 0) or 0)
    if status in ("running", "created") and not restarts:
        return None
    if status == "running":
        status = f"restarted {restarts} time(s)"
    elif status == "exited":
        status = f"exited with status {state.get('ExitCode')}"
    if state.get("OOMKilled"):
        status += ", killed by the kernel: out of memory"
    lines = _last_lines(container)
    return BootFailure(status, _reason(container.name, lines), _fix(container.name, lines))


def _last_lines(container: Container) -> list[str]:
    raw = container.logs(tail=LOG_LINES, stdout=True, stderr=True)
    return raw.decode(errors="replace").strip().splitlines()


def _reason(name: str, lines: list[str]) -> str:
    if not lines:
        return f"container {name} printed nothing"
    return f"the last lines of 'docker logs {name}':\n" + "\n".join(lines)


def _fix(name: str, lines: list[str]) -> str:
    if any(sign in line for line in lines for sign in INOTIFY_SIGNS):
        return "the host ran out of inotify instances (fs.inotify.max_user_instances); " + (
            INOTIFY_FIX
        )
    return (
        f"see why with 'docker inspect {name}' (State) and the engine's log "
        "('journalctl -u docker'); when the cause is gone, run the command again"
    )


def read_limit(path: Path = MAX_USER_INSTANCES) -> int | None:
    """The host's inotify instance limit per user, or None where it cannot be read."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def root_instances_in_use(proc: Path = Path("/proc")) -> int | None:
    """The inotify instances root's processes hold now, or None where /proc will not say.

    Only root may read other processes' descriptors: run by anyone else (a user
    of the docker group), this says None and the check falls back to an estimate.
    An instance shared by a parent and its child counts twice: an over-count errs
    on the safe side.
    """
    if os.geteuid() != 0:
        return None
    held = 0
    for process in proc.glob("[0-9]*"):
        try:
            if process.stat().st_uid != 0:
                continue
            for fd in (process / "fd").iterdir():
                with contextlib.suppress(OSError):
                    held += os.readlink(fd) == "anon_inode:inotify"
        except OSError:  # the process ended while we looked
            continue
    return held


@dataclass(frozen=True)
class InotifyRoom:
    """Whether ``new`` more node containers fit in the host's inotify instance limit."""

    running_nodes: Callable[[], int]  # node containers running on the engine, every cluster's
    limit: Callable[[], int | None] = read_limit
    in_use: Callable[[], int | None] = root_instances_in_use

    def check(self, new: int) -> None:
        limit = self.limit()
        if limit is None:
            return
        held = self.in_use()
        if held is not None:
            need = held + new * INOTIFY_PER_NODE
            now = f"root's processes hold {held} now"
        else:
            running = self.running_nodes()
            need = INOTIFY_HOST_RESERVE + (running + new) * INOTIFY_PER_NODE
            now = f"{running} node container(s) run already"
        if need <= limit:
            return
        raise ClusterousError(
            f"{new} more node container(s) would not fit in this host's inotify limit",
            f"fs.inotify.max_user_instances is {limit}; {now} and each node takes up to "
            f"{INOTIFY_PER_NODE}, so about {need} are needed "
            f"(nodes past the limit cannot start systemd and restart forever)",
            INOTIFY_FIX + "; or stop other clusters first",
        )
