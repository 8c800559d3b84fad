"""The small interface every provider implements (DESIGN section 1).

A provider makes and removes the things a cluster is built of: its private
network, its shared volume, its nodes. It knows nothing of Swarm, environment
files or the CLI; the cluster manager drives it and records in the ledger what
it reports through ``Recorder``. Above this interface nothing knows which
provider is in use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from clusterous.records import ClusterState, NodeRecord, ResourceRecord
from clusterous.remote.keys import KeyPair

if TYPE_CHECKING:
    from clusterous.node import BootstrapParams

Role = Literal["controller", "node"]


@dataclass(frozen=True)
class InstanceType:
    name: str
    cpus: float
    memory_mib: int
    hourly_price: float | None = None  # None: unknown, never guessed


@dataclass(frozen=True)
class NodeRequest:
    """One node to launch, with the bootstrap parameters of its group's user-data.

    Providers launch the nodes of a group together, with one user-data for all:
    the requests of one group share their host key and parameters.
    """

    name: str
    group: str
    instance_type: str
    role: Role
    host_key: KeyPair
    authorized_key: str
    bootstrap: BootstrapParams
    spot: bool = False
    spot_fallback: str = "on-demand"  # on-demand | none


@dataclass(frozen=True)
class NodeSlot:
    """A node about to be launched: what a provider may start ahead of its user-data."""

    name: str
    group: str
    instance_type: str
    role: Role


def slot_of(request: NodeRequest) -> NodeSlot:
    return NodeSlot(request.name, request.group, request.instance_type, request.role)


@dataclass(frozen=True)
class NodeView:
    """A node as the provider sees it now."""

    name: str
    group: str
    instance_type: str
    instance_id: str
    state: str  # running, stopped, pending, missing
    private_addr: str = ""
    ssh_host: str = ""
    ssh_port: int = 0


@dataclass(frozen=True)
class NetworkInfo:
    resource: ResourceRecord
    private_cidr: str


@dataclass(frozen=True)
class Leftover:
    kind: str
    id: str
    why: str = ""


@dataclass
class SweepReport:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)


class Recorder(Protocol):
    """Where the provider reports each thing the moment it exists (the ledger)."""

    def record_resource(self, resource: ResourceRecord) -> None: ...

    def record_node(self, node: NodeRecord) -> None: ...


@runtime_checkable
class BatchRecorder(Recorder, Protocol):
    """A Recorder that can write a whole launch's nodes in one ledger update."""

    def record_nodes(self, nodes: Sequence[NodeRecord]) -> None: ...


def record_nodes(recorder: Recorder, nodes: Sequence[NodeRecord]) -> None:
    """Record nodes launched together: in one write when the recorder can."""
    if isinstance(recorder, BatchRecorder):
        recorder.record_nodes(nodes)
        return
    for node in nodes:
        recorder.record_node(node)


Report = Callable[[str], None]


class Provider(Protocol):
    name: str
    cluster_id: str  # the ownership id put on everything made (tag/label); "" for none

    def owner_ids(self) -> dict[str, list[str]]:
        """Each ownership id found on the cluster's labelled/tagged things, with what has it."""

    def preflight(self) -> None:
        """Fail early, with the fix, when the provider cannot work at all."""

    def instance_types(self) -> dict[str, InstanceType]: ...

    def default_instance_type(self, role: Role) -> str: ...

    def check_instance_types(self, names: Sequence[str]) -> None:
        """Raise an InputError naming valid types when one is unknown."""

    def image_of(self, instance_type: str) -> str:
        """The image nodes of this type start from (shown by --dry-run)."""

    def describe_resources(self, size_gib: int | None, volume_id: str | None) -> list[str]:
        """What besides the nodes a create would make, one line each (shown by --dry-run)."""

    def find_existing(self) -> list[str]:
        """Anything already labelled/tagged with this cluster's name."""

    def create_network(self, recorder: Recorder) -> NetworkInfo: ...

    def create_shared_volume(
        self, recorder: Recorder, size_gib: int | None, volume_id: str | None
    ) -> ResourceRecord: ...

    def launch_nodes(
        self, requests: Sequence[NodeRequest], recorder: Recorder, report: Report
    ) -> list[NodeRecord]: ...

    def terminate_nodes(self, nodes: Sequence[NodeRecord], report: Report) -> None: ...

    def describe_nodes(self) -> list[NodeView]: ...

    def bootstrap_settings(self, private_cidr: str) -> dict[str, str]:
        """Provider-specific BootstrapParams fields (storage, DNS, shared volume, NFS)."""

    def sweep(self, state: ClusterState | None, keep_volume: bool, report: Report) -> SweepReport:
        """Remove what the ledger lists and all found by label/tag; idempotent."""

    def leftovers(self) -> list[Leftover]:
        """Everything still labelled/tagged with the cluster, after a sweep."""

    def list_clusters(self) -> dict[str, int]:
        """Clusters found by label/tag, with how many nodes each has."""

    def adopt(self, login_key: KeyPair) -> ClusterState:
        """Rebuild the local view of an existing cluster from the cluster itself."""

    def host_public_key(self, node: str) -> str:
        """The host key a node presents, read through the provider's own API (adoption)."""


def launches(requests: Sequence[NodeRequest]) -> list[list[NodeRequest]]:
    """Requests grouped by node group, in order: one launch (and one user-data) each."""
    grouped: dict[str, list[NodeRequest]] = {}
    for request in requests:
        grouped.setdefault(request.group, []).append(request)
    return list(grouped.values())


@runtime_checkable
class Prestarter(Protocol):
    """A provider that can start machines before their user-data exists (local: seconds saved).

    They boot as far as cloud-init, which waits for the seed that
    ``launch_nodes`` delivers for the same names. The manager starts a
    cluster's other nodes this way while its controller configures itself.
    """

    def prestart(self, slots: Sequence[NodeSlot], recorder: Recorder, report: Report) -> None: ...
