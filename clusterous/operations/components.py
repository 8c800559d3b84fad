"""What a running environment offers: its logs, a shell in a container, its images, /data.

Each function takes a ClusterHandle (``operations.clusters.open_cluster``) and
reaches the controller over one SSH session with a pinned host key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clusterous.environments.files import SharedVolume, open_volume
from clusterous.errors import ClusterousError, InputError
from clusterous.operations.environments import controller, engine
from clusterous.operations.handle import ClusterHandle

if TYPE_CHECKING:
    import docker


def logs(
    handle: ClusterHandle,
    component: str,
    on_line: Callable[[str, str], None],
    follow: bool = False,
    tail: int | None = None,
) -> None:
    """Every task's output, each line with the node it came from."""
    from clusterous.environments import logs as log_lines
    from clusterous.environments import swarm_apps

    with engine(handle) as (_, client):
        require_component(client, component)
        names = swarm_apps.node_names(client)
        for node, line in log_lines.stream(client, component, names, follow, tail):
            on_line(node, line)


def require_component(client: docker.DockerClient, component: str) -> None:
    from clusterous.environments import swarm_apps

    names = sorted(s.name for s in swarm_apps.services_of(client))
    if component not in names:
        raise InputError(
            f"no component named {component!r} is running",
            f"running: {', '.join(names)}" if names else "no environment is running",
            "see 'clusterous status'; start one with 'clusterous run ENV_FILE'",
        )


def connect_command(handle: ClusterHandle, component: str, task: int | None) -> list[str]:
    """The ssh command line for an interactive shell in one of the component's containers."""
    from clusterous.environments import swarm_apps

    with engine(handle) as (_, client):
        require_component(client, component)
        running = [
            t
            for t in swarm_apps.tasks(client, component, swarm_apps.node_names(client))
            if t.state == "running" and t.container_id
        ]
    running.sort(key=lambda t: (t.node, t.id))
    if not running:
        raise ClusterousError(f"component {component!r} has no running container", None, None)
    if task is None and len(running) > 1:
        choices = ", ".join(f"{i + 1} ({t.node})" for i, t in enumerate(running))
        raise InputError(
            f"component {component!r} runs {len(running)} containers",
            f"choose one with --task: {choices}",
        )
    index = (task or 1) - 1
    if not 0 <= index < len(running):
        raise InputError(f"--task must be between 1 and {len(running)}, got {task}")
    chosen = running[index]
    state = handle.state()
    ssh = handle.access.ssh_command(state, state.node(chosen.node))
    return [ssh[0], "-t", *ssh[1:], exec_shell(chosen.container_id)]


def exec_shell(container_id: str) -> str:
    """bash when the image has it, else sh."""
    return (
        f"docker exec -it {container_id} sh -c 'command -v bash >/dev/null && exec bash || exec sh'"
    )


# -- images -------------------------------------------------------------------------


def build_image(
    handle: ClusterHandle, directory: Path, name: str, on_line: Callable[[str], None]
) -> str:
    from clusterous.environments import images

    with engine(handle) as (_, client):
        return images.build_and_push(client, directory, name, on_line, force=True).image


def image_info(handle: ClusterHandle, name: str) -> Any:
    from clusterous.environments import registry

    state = handle.state()
    address = state.controller.private_addr if state.controller else ""
    if not address:
        raise ClusterousError(
            f"cluster {handle.name!r} has no controller address on record",
            None,
            f"rebuild the local files with 'clusterous workon {handle.name}'",
        )
    with controller(handle) as session:
        # The registry listens on the controller's private address only.
        return registry.describe(
            registry.Registry(lambda: session.open_channel(address, registry.PORT)), name
        )


@contextmanager
def volume(handle: ClusterHandle) -> Iterator[SharedVolume]:
    with controller(handle) as session:
        shared = open_volume(session.transport)
        try:
            yield shared
        finally:
            shared.sftp.close()
