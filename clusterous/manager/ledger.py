"""The ledger: what clusterous made for a cluster, written as each thing is made.

``clusters/<name>/state.json`` records every created resource and node the
moment it exists (DESIGN section 5), so an interrupted or failed create leaves
a trail that ``destroy`` follows. Each change is read-modify-write under the
cluster's lock file and lands with an atomic rename.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from clusterous.errors import ClusterousError, NotFoundError
from clusterous.home import Home, atomic_write, file_lock

SCHEMA_VERSION = 1


@dataclass
class NodeRecord:
    name: str
    group: str
    instance_type: str
    instance_id: str
    private_addr: str = ""
    ssh_host: str = ""
    ssh_port: int = 0
    ready: bool = False

    @property
    def is_controller(self) -> bool:
        return self.group == "controller"


@dataclass
class ResourceRecord:
    kind: str  # network, shared-volume, node-volume, ...
    id: str
    name: str = ""
    keep: bool = False  # brought by the user: never deleted


@dataclass
class ClusterState:
    name: str
    provider: str
    profile: str
    schema_version: int = SCHEMA_VERSION
    status: str = "creating"  # creating, ready, failed, destroying
    created_at: float = field(default_factory=time.time)
    private_cidr: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    nodes: list[NodeRecord] = field(default_factory=list)
    resources: list[ResourceRecord] = field(default_factory=list)

    @property
    def controller(self) -> NodeRecord | None:
        return next((n for n in self.nodes if n.is_controller), None)

    def node(self, name: str) -> NodeRecord:
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes) or "none"
        raise NotFoundError(
            f"no node named {name!r} in cluster {self.name!r}",
            f"its nodes are: {known}",
            f"see 'clusterous status {self.name}'",
        )

    def groups(self) -> dict[str, list[NodeRecord]]:
        grouped: dict[str, list[NodeRecord]] = {}
        for node in self.nodes:
            if not node.is_controller:
                grouped.setdefault(node.group, []).append(node)
        return grouped

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path) -> ClusterState:
        try:
            raw = json.loads(text)
            if raw.get("schema_version") != SCHEMA_VERSION:
                raise ValueError(f"schema_version {raw.get('schema_version')!r} is not supported")
            raw["nodes"] = [NodeRecord(**n) for n in raw.get("nodes", [])]
            raw["resources"] = [ResourceRecord(**r) for r in raw.get("resources", [])]
            known = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in raw.items() if k in known})
        except (ValueError, TypeError, AttributeError) as problem:
            raise ClusterousError(
                f"cannot read the cluster state {where}",
                str(problem),
                "run 'clusterous workon NAME' to rebuild it from the cluster itself",
            ) from problem


class Ledger:
    """The state file of one cluster, changed only under its lock."""

    def __init__(self, home: Home, name: str) -> None:
        self.name = name
        self.dir = home.cluster_dir(name)
        self.path = self.dir / "state.json"
        self.lock_path = self.dir / ".lock"

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> ClusterState:
        if not self.exists():
            raise NotFoundError(
                f"no cluster named {self.name!r} on this machine",
                None,
                "see 'clusterous ls-clusters', or 'clusterous workon NAME' to take one over",
            )
        return ClusterState.from_json(self.path.read_text(), self.path)

    def create(self, state: ClusterState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with file_lock(self.lock_path):
            atomic_write(self.path, state.to_json())

    @contextmanager
    def change(self) -> Iterator[ClusterState]:
        """Lock, read, let the caller change the state, write it back atomically."""
        with file_lock(self.lock_path):
            state = self.load()
            yield state
            atomic_write(self.path, state.to_json())

    def update(self, mutate: Callable[[ClusterState], None]) -> ClusterState:
        with self.change() as state:
            mutate(state)
        return state

    def record_node(self, node: NodeRecord) -> None:
        def put(state: ClusterState) -> None:
            state.nodes = [n for n in state.nodes if n.name != node.name] + [node]

        self.update(put)

    def forget_node(self, name: str) -> None:
        self.update(lambda s: setattr(s, "nodes", [n for n in s.nodes if n.name != name]))

    def record_resource(self, resource: ResourceRecord) -> None:
        def put(state: ClusterState) -> None:
            state.resources = [r for r in state.resources if r.id != resource.id] + [resource]

        self.update(put)

    def forget_resource(self, resource_id: str) -> None:
        self.update(
            lambda s: setattr(s, "resources", [r for r in s.resources if r.id != resource_id])
        )

    def set_status(self, status: str) -> None:
        self.update(lambda s: setattr(s, "status", status))

    def remove(self) -> None:
        """Forget the cluster locally (after a complete destroy)."""
        import shutil

        with file_lock(self.lock_path):
            for child in self.dir.iterdir():
                if child.name != ".lock":
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
        self.lock_path.unlink(missing_ok=True)
        self.dir.rmdir()
