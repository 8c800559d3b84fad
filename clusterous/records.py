"""What the ledger holds: a cluster's state as typed records, and its JSON form.

These types sit below every layer that uses them: providers report nodes and
resources as ``NodeRecord``/``ResourceRecord``, the manager keeps them in
``ClusterState``, and environments record their application and tunnels in
it. ``manager/ledger.py`` stores a ``ClusterState`` as ``state.json`` under a
lock; this module only says what the file means.

Schema version 2 gives every piece its own typed field. Version-1 files kept
groups, retired node numbers, the running environment and the tunnels in one
untyped ``settings`` object: they are migrated when read, and written back
as version 2.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from clusterous.errors import ClusterousError, NotFoundError

SCHEMA_VERSION = 2
# ClusterState.status of a cluster whose machines `clusterous stop` stopped (or is stopping):
# commands that need its nodes refuse it, status does not reach for them.
PAUSED_STATUSES = ("stopping", "stopped")


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


@dataclass(frozen=True)
class GroupMarket:
    """How a node group's machines are bought: what add-nodes must launch alike."""

    spot: bool = False
    spot_fallback: str = "on-demand"  # on-demand | none


@dataclass(frozen=True)
class EnvironmentRecord:
    """The application ``run`` deployed, so quit, status and a second run find it."""

    name: str
    file: str
    network: str
    components: tuple[str, ...] = ()
    started_at: float = 0.0


@dataclass(frozen=True)
class TunnelRecord:
    """One background SSH tunnel: local port -> a component's port on a node."""

    local_port: int
    component: str
    remote_host: str
    remote_port: int
    pid: int = 0
    message: str | None = None
    started: str = ""  # the process' start time, so a reused pid is never taken for it

    @property
    def url(self) -> str:
        return f"http://localhost:{self.local_port}"

    def rendered_message(self) -> str:
        text = self.message or f"{self.component}:{self.remote_port} is at {{url}}"
        return text.format(url=self.url, port=self.local_port)


@dataclass(frozen=True)
class LeaseRecord:
    """The cluster's lease (DESIGN section 3): how long it lives without a command.

    ``max_hours`` 0 means no lease; ``idle_minutes`` 0 means no idle stop.
    ``expires_at`` is the end last heard from the controller, on this machine's
    clock (0: never heard); only for telling the user, never for deciding.
    """

    max_hours: float = 0.0
    idle_minutes: int = 0
    expires_at: float = 0.0


@dataclass(frozen=True)
class LoggingSettings:
    """Central logging: ``central_logging_level`` (0 off, 1, 2) and the controller's store bound."""

    level: int = 1
    max_mib: int = 1024

    @property
    def on(self) -> bool:
        return self.level != 0


@dataclass
class ClusterState:
    name: str
    provider: str
    profile: str
    schema_version: int = SCHEMA_VERSION
    status: str = "creating"  # creating, ready, failed, destroying, stopping, stopped, starting
    created_at: float = field(default_factory=time.time)
    private_cidr: str = ""
    cluster_id: str = ""
    groups: dict[str, GroupMarket] = field(default_factory=dict)
    retired: dict[str, int] = field(default_factory=dict)  # highest removed node number
    environment: EnvironmentRecord | None = None
    tunnels: list[TunnelRecord] = field(default_factory=list)
    nodes: list[NodeRecord] = field(default_factory=list)
    resources: list[ResourceRecord] = field(default_factory=list)
    lease: LeaseRecord = field(default_factory=LeaseRecord)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    dashboard: TunnelRecord | None = None  # the cluster's, not the environment's

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

    def node_groups(self) -> dict[str, list[NodeRecord]]:
        """The nodes of each group, the controller left out."""
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
            return state_from_dict(raw)
        except (ValueError, TypeError, AttributeError) as problem:
            raise DamagedState(name, where, str(problem)) from None


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


# -- reading ------------------------------------------------------------------------


def state_from_dict(raw: Any) -> ClusterState:
    """A ClusterState from parsed JSON of any supported schema version; ValueError/TypeError."""
    raw = _object(raw, "the state")
    version = raw.get("schema_version")
    if version == 1:
        raw = migrate_v1(raw)
    elif version != SCHEMA_VERSION:
        raise ValueError(f"schema_version {version!r} is not supported")
    return ClusterState(
        name=_typed(raw, "name", str, ""),
        provider=_typed(raw, "provider", str, ""),
        profile=_typed(raw, "profile", str, ""),
        status=_typed(raw, "status", str, ""),
        created_at=float(_typed(raw, "created_at", (int, float), "")),
        private_cidr=_typed(raw, "private_cidr", str, "", default=""),
        cluster_id=_typed(raw, "cluster_id", str, "", default=""),
        groups={
            group: _record(GroupMarket, value, f"groups.{group}")
            for group, value in _object(raw.get("groups", {}), "groups").items()
        },
        retired={
            group: _checked(number, (int,), f"retired.{group}")
            for group, number in _object(raw.get("retired", {}), "retired").items()
        },
        environment=_environment(raw.get("environment")),
        tunnels=[
            _record(TunnelRecord, t, f"tunnels[{i}]") for i, t in enumerate(_list(raw, "tunnels"))
        ],
        nodes=[_record(NodeRecord, n, f"nodes[{i}]") for i, n in enumerate(_list(raw, "nodes"))],
        resources=[
            _record(ResourceRecord, r, f"resources[{i}]")
            for i, r in enumerate(_list(raw, "resources"))
        ],
        lease=_record(LeaseRecord, raw.get("lease", {}), "lease"),
        logging=_record(LoggingSettings, raw.get("logging", {}), "logging"),
        dashboard=None
        if raw.get("dashboard") is None
        else _record(TunnelRecord, raw["dashboard"], "dashboard"),
    )


def migrate_v1(raw: dict[str, Any]) -> dict[str, Any]:
    """A version-1 state (one untyped ``settings`` object) in version 2's shape."""
    settings = _object(raw.get("settings", {}), "settings")
    migrated = {k: v for k, v in raw.items() if k != "settings"}
    migrated.update(
        schema_version=SCHEMA_VERSION,
        groups=settings.get("groups", {}),
        retired=settings.get("retired_numbers", {}),
        environment=settings.get("environment") or None,
        tunnels=settings.get("tunnels", []),
    )
    if "cluster_id" in settings:
        migrated["cluster_id"] = settings["cluster_id"]
    return migrated


def _environment(raw: Any) -> EnvironmentRecord | None:
    if raw is None:
        return None
    values = dict(_object(raw, "environment"))
    components = values.get("components", [])
    if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
        raise TypeError(f"environment.components: expected a list of names, got {components!r}")
    values["components"] = tuple(components)
    return _record(EnvironmentRecord, values, "environment")


R = TypeVar("R")

# The JSON types a field of each annotation accepts (a bool is no int here).
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str | None": (str, type(None)),
    "tuple[str, ...]": (tuple,),
}


def _record(cls: type[R], raw: Any, where: str) -> R:
    values = _object(raw, where)
    known = {f.name: str(f.type) for f in fields(cls)}  # type: ignore[arg-type]
    for name, value in values.items():
        if name in known:
            _checked(value, _JSON_TYPES.get(known[name], (object,)), f"{where}.{name}")
    try:
        return cls(**{k: v for k, v in values.items() if k in known})
    except TypeError as problem:
        raise TypeError(f"{where}: {problem}") from None


def _typed(
    raw: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...
) -> Any:
    if key not in raw:
        if default is ...:
            raise TypeError(f"{where}{key}: missing")
        return default
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return _checked(raw[key], kinds, f"{where}{key}")


def _checked(value: Any, kinds: tuple[type, ...], where: str) -> Any:
    wrong_bool = isinstance(value, bool) and bool not in kinds
    if not isinstance(value, kinds) or wrong_bool:
        names = " or ".join(k.__name__ for k in kinds)
        raise TypeError(f"{where}: expected {names}, got {value!r}")
    return value


def _object(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TypeError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    return raw


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key, [])
    if not isinstance(value, list):
        raise TypeError(f"{key}: expected a list, got {value!r}")
    return value
