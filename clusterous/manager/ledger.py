"""The ledger: what clusterous made for a cluster, written as each thing is made.

``clusters/<name>/state.json`` records every created resource and node the
moment it exists (DESIGN section 5), so an interrupted or failed create leaves
a trail that ``destroy`` follows. Each change is read-modify-write under the
cluster's lock file and lands with an atomic rename.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from clusterous.errors import ClusterousError, InputError, NotFoundError
from clusterous.home import Home, atomic_write, file_lock

SCHEMA_VERSION = 1
DAMAGED_PREFIX = "state.json.damaged-"


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
        """The state in ``text``; DamagedState naming ``where`` if it is not one."""
        name = where.parent.name
        if not text.strip():
            raise DamagedState(name, where, "the file is empty")
        try:
            raw = json.loads(text)
        except ValueError as problem:
            raise DamagedState(name, where, f"not valid JSON (cut short?): {problem}") from None
        try:
            return cls._from_dict(raw)
        except (ValueError, TypeError, AttributeError) as problem:
            raise DamagedState(name, where, str(problem)) from None

    @classmethod
    def _from_dict(cls, raw: Any) -> ClusterState:
        if not isinstance(raw, dict):
            raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
        if raw.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema_version {raw.get('schema_version')!r} is not supported")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        check_types(cls, values, "")
        values["nodes"] = [
            _record(NodeRecord, n, f"nodes[{i}]") for i, n in enumerate(raw.get("nodes", []))
        ]
        values["resources"] = [
            _record(ResourceRecord, r, f"resources[{i}]")
            for i, r in enumerate(raw.get("resources", []))
        ]
        return cls(**values)


SIMPLE_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "dict[str, Any]": (dict,),
    "list[NodeRecord]": (list,),
    "list[ResourceRecord]": (list,),
}


def check_types(cls: type, values: dict[str, Any], where: str) -> None:
    """Refuse a field of the wrong JSON type, naming it (a bool is no int here)."""
    for f in fields(cls):
        if f.name not in values:
            continue
        wanted = SIMPLE_TYPES.get(str(f.type))
        value = values[f.name]
        wrong_bool = isinstance(value, bool) and bool not in (wanted or (bool,))
        if wanted and (not isinstance(value, wanted) or wrong_bool):
            raise TypeError(f"{where}{f.name}: expected {f.type}, got {value!r}")


def _record(cls: type[Any], raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise TypeError(f"{where}: expected a JSON object, got {raw!r}")
    check_types(cls, raw, f"{where}.")
    try:
        return cls(**raw)
    except TypeError as problem:
        raise TypeError(f"{where}: {problem}") from None


class DamagedState(ClusterousError):
    """A state file that cannot be read: cut short, empty, not UTF-8, or not our schema."""

    def __init__(self, cluster: str, path: Path, why: str) -> None:
        super().__init__(
            f"the state file of cluster {cluster!r} is damaged ({path})",
            why,
            f"rebuild it from the cluster with 'clusterous workon {cluster}', or remove the "
            f"cluster with 'clusterous destroy {cluster}'; both set the damaged file aside first",
        )
        self.path = path


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
        try:
            raw = self.path.read_bytes()
        except OSError as problem:
            raise ClusterousError(
                f"cannot read the state file of cluster {self.name!r} ({self.path})",
                problem.strerror or str(problem),
                "check the permissions of the file and of its directory",
            ) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as problem:
            why = f"not UTF-8 text (byte {problem.start} is {raw[problem.start]:#04x})"
            raise DamagedState(self.name, self.path, why) from None
        state = ClusterState.from_json(text, self.path)
        if state.name != self.name:
            why = f"it describes cluster {state.name!r}"
            raise DamagedState(self.name, self.path, why)
        return state

    def is_damaged(self) -> DamagedState | None:
        """Why the state file cannot be read, or None (it reads, or there is none)."""
        if not self.exists():
            return None
        try:
            self.load()
        except DamagedState as damage:
            return damage
        return None

    def create(self, state: ClusterState) -> None:
        """Write the first state; refused if any other command already made one.

        The complete file is written aside, then hard-linked into place: like an
        O_EXCL create, the link fails if state.json exists, so two creates of one
        name cannot share a ledger, and no reader ever sees a half-written file.
        """
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with file_lock(self.lock_path):
            draft = self.dir / f".state.json.{os.getpid()}.new"
            atomic_write(draft, state.to_json())
            try:
                os.link(draft, self.path)
            except FileExistsError:
                raise InputError(
                    f"a cluster named {self.name!r} already exists",
                    f"another command made its state file {self.path} first",
                    f"pick another --name, or remove it first with 'clusterous destroy "
                    f"{self.name}'",
                ) from None
            finally:
                draft.unlink(missing_ok=True)

    def set_aside(self, clock: Callable[[], float] = time.time) -> Path:
        """Move a damaged state file out of the way (kept for inspection); its new path."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock()))
        with file_lock(self.lock_path):
            target = self.dir / f"{DAMAGED_PREFIX}{stamp}"
            count = 1
            while target.exists():
                count += 1
                target = self.dir / f"{DAMAGED_PREFIX}{stamp}-{count}"
            os.rename(self.path, target)
        return target

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
        """Forget the cluster locally (after a complete destroy); keep set-aside damaged files."""
        import shutil

        with file_lock(self.lock_path):
            for child in self.dir.iterdir():
                if child.name == ".lock" or child.name.startswith(DAMAGED_PREFIX):
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        if all(child.name == ".lock" for child in self.dir.iterdir()):
            self.lock_path.unlink(missing_ok=True)
            self.dir.rmdir()
