"""The ledger: what clusterous made for a cluster, written as each thing is made.

``clusters/<name>/state.json`` records every created resource and node the
moment it exists (DESIGN section 5), so an interrupted or failed create leaves
a trail that ``destroy`` follows. Each change is read-modify-write under the
cluster's lock file and lands with an atomic rename.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from clusterous.errors import ClusterousError, InputError, NotFoundError
from clusterous.home import Home, atomic_write, file_lock
from clusterous.records import (
    ClusterState,
    DamagedState,
    EnvironmentRecord,
    GroupMarket,
    NodeRecord,
    ResourceRecord,
    TunnelRecord,
)

DAMAGED_PREFIX = "state.json.damaged-"


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

    def record_groups(self, groups: Mapping[str, GroupMarket]) -> None:
        self.update(lambda s: s.groups.update(groups))

    def retire(self, node: NodeRecord, number: int) -> None:
        """Remember a removed node's number: names are never reused in a group."""

        def put(state: ClusterState) -> None:
            state.retired[node.group] = max(state.retired.get(node.group, 0), number)

        self.update(put)

    def set_environment(self, environment: EnvironmentRecord | None) -> None:
        """The running application; None forgets it together with its tunnels."""

        def put(state: ClusterState) -> None:
            state.environment = environment
            if environment is None:
                state.tunnels = []

        self.update(put)

    def record_tunnel(self, tunnel: TunnelRecord) -> None:
        """A tunnel just started; it replaces any record of the same local port."""

        def put(state: ClusterState) -> None:
            kept = [t for t in state.tunnels if t.local_port != tunnel.local_port]
            state.tunnels = [*kept, tunnel]

        self.update(put)

    def forget_tunnels(self) -> None:
        self.update(lambda s: setattr(s, "tunnels", []))

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
