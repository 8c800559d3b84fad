"""A component's output from every task, each line tagged with the node it ran on.

Swarm gathers the logs of every task for the manager; with ``details`` each
line starts with ``com.docker.swarm.node.id=...,...`` which is turned into
the clusterous node name.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker

NODE_ATTR = "com.docker.swarm.node.id"


def split_detail(line: str, names: dict[str, str]) -> tuple[str, str]:
    """``attrs message`` -> (node name, message); a line without attrs keeps its text."""
    head, _, rest = line.partition(" ")
    attrs = dict(part.split("=", 1) for part in head.split(",") if "=" in part)
    if NODE_ATTR not in attrs:
        return "?", line
    node_id = attrs[NODE_ATTR]
    return names.get(node_id, node_id[:12]), rest


def lines_of(chunks: Iterable[bytes]) -> Iterator[str]:
    pending = ""
    for chunk in chunks:
        pending += chunk.decode(errors="replace")
        *complete, pending = pending.split("\n")
        yield from complete
    if pending:
        yield pending


def stream(
    client: docker.DockerClient,
    component: str,
    names: dict[str, str],
    follow: bool,
    tail: int | None,
) -> Iterator[tuple[str, str]]:
    raw = client.api.service_logs(
        component,
        details=True,
        follow=follow,
        stdout=True,
        stderr=True,
        tail="all" if tail is None else tail,
    )
    for line in lines_of(raw):
        yield split_detail(line, names)
