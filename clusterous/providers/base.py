"""The small interface every provider implements (DESIGN section 1).

A provider makes and removes the things a cluster is built of: its private
network, its shared volume, its nodes. It knows nothing of Swarm, environment
files or the CLI; the cluster manager drives it and records in the ledger what
it hands its ``Recorder``. Above this interface nothing knows which
provider is in use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from clusterous.providers.cost import Rate
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
    state: str  # running, pending, stopping, stopped, terminated (the lease ended it)
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
class SweepResult:
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)


@dataclass(frozen=True)
class CostLine:
    """Something besides the instances that bills while a cluster runs (a create's plan)."""

    what: str  # "shared volume"
    amount: str  # "100 GiB gp3", "4 addresses"
    hourly: float | None  # the whole line, USD per hour; None: unknown, never guessed
    source: str = ""  # where the price came from


@dataclass(frozen=True)
class BootstrapSettings:
    """What a provider adds to every node's bootstrap: the provider's BootstrapParams fields."""

    swarm_addr_pool: str
    registry_storage: str = "filesystem"  # filesystem | s3
    dns: str = ""  # space-separated nameservers for the node's dockerd
    docker_storage_driver: str = ""
    registry_bucket: str = ""
    registry_region: str = ""
    registry_prefix: str = ""
    registry_endpoint: str = ""
    nfs: str = ""  # yes: the controller shares /data over NFS
    shared_device: str = ""


@dataclass(frozen=True)
class KeptVolume:
    """A shared volume clusterous made, in use by a cluster or kept after its destroy."""

    id: str
    cluster: str
    size_gib: int | None  # None: not measured (a directory)
    zone: str  # where it lives: an availability zone, or "this machine"
    state: str
    kept: bool
    attached_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Billable:
    """Something clusterous made that bills, or holds a cluster's name: an account-wide scan's."""

    region: str
    kind: str  # instance | volume | vpc | address | registry-prefix
    id: str
    cluster: str  # the cluster it is tagged with ("" when none)
    what: str  # "t3.medium, running", "20 GiB gp3, shared volume, kept"
    monthly: float | None  # USD a month if left as it is; None: unknown, never guessed
    source: str  # where the price came from
    cluster_id: str = ""  # the ownership id it is tagged with
    role: str = ""  # kept-volume | orphaned-root-disk | ... : what removes it


@dataclass
class AccountScan:
    """What a scan of every region found, and the regions it could not look into (why)."""

    regions: list[str] = field(default_factory=list)
    found: list[Billable] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


class AccountScanner(Protocol):
    """Looks through every region of an account for what clusterous made (ls-clusters)."""

    def scan(self, say: Say) -> AccountScan: ...


@dataclass(frozen=True)
class Adoption:
    """A cluster taken over from the cluster itself: its ledger and the host keys to pin."""

    state: ClusterState
    host_keys: dict[str, str]  # node name -> host public key (OpenSSH)


class Recorder(Protocol):
    """Where the provider writes down each thing the moment it exists (the ledger)."""

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


Say = Callable[[str], None]  # one line of progress for the user


class Catalog(Protocol):
    """The machine types a provider offers, and the image nodes start from."""

    def instance_types(self) -> dict[str, InstanceType]: ...

    def default_instance_type(self, role: Role) -> str: ...

    def check_instance_types(self, names: Sequence[str]) -> None:
        """Raise an InputError naming valid types when one is unknown."""

    def image_of(self, instance_type: str) -> str:
        """The image nodes of this type start from (shown by --dry-run)."""

    def running_costs(self, nodes: int, new_volume_gib: int | None) -> list[CostLine]:
        """What bills per hour besides the instances: disks, addresses (none when free).

        ``new_volume_gib``: the size of the shared volume a create makes (None:
        the provider's default; 0: none made, the user brings one).
        """


class KeptVolumes(Protocol):
    """Shared volumes that outlive their cluster (``destroy --keep-volume``)."""

    @property
    def free_to_keep(self) -> bool:
        """Whether keeping one costs nothing (a directory on this machine)."""

    def find(self) -> list[KeptVolume]:
        """Every shared volume clusterous made here, kept or in use (ls-volumes)."""

    def remove(self, volume_id: str) -> KeptVolume:
        """Delete a kept volume no cluster uses; return what it was (rm-volume)."""

    def question(self, state: ClusterState | None) -> str | None:
        """The shared volume a destroy would delete, when worth asking 'keep it?'."""


class Meter(Protocol):
    """What a cluster bills now, read from the provider (``status``'s cost)."""

    def rates(self, state: ClusterState, now: float) -> list[Rate]:
        """One rate per line (instances by type and market, disks, addresses, storage).

        ``now`` (epoch seconds) is the moment prices are asked for (a spot price).
        """


class Adopter(Protocol):
    """Rebuilds the local view of a cluster made elsewhere, from the cluster itself (workon)."""

    def adopt(self, login_key: KeyPair) -> Adoption: ...


class ImageSource(Protocol):
    """Images the nodes cannot pull themselves, from where the provider has them."""

    def archive(self, image: str) -> Iterator[bytes] | None:
        """``image`` as ``docker save`` streams it, or None when there is no such image."""


class Provider(Protocol):
    """The core lifecycle every provider has, and capabilities one may lack (then None)."""

    name: str
    cluster_id: str  # the ownership id put on everything made (tag/label); "" for none

    @property
    def catalog(self) -> Catalog: ...

    @property
    def kept_volumes(self) -> KeptVolumes | None: ...

    @property
    def adopter(self) -> Adopter | None: ...

    @property
    def image_source(self) -> ImageSource | None:
        """None: the nodes pull public images themselves (AWS)."""

    @property
    def meter(self) -> Meter | None:
        """None: the provider cannot say what the cluster costs."""

    def owner_ids(self) -> dict[str, list[str]]:
        """Each ownership id found on the cluster's labelled/tagged things, with what has it."""

    def preflight(self) -> None:
        """Fail early, with the fix, when the provider cannot work at all."""

    def describe_resources(self, size_gib: int | None, volume_id: str | None) -> list[str]:
        """What besides the nodes a create would make, one line each (shown by --dry-run)."""

    def find_existing(self) -> list[str]:
        """Anything already labelled/tagged with this cluster's name."""

    def create_network(self, recorder: Recorder) -> NetworkInfo: ...

    def create_shared_volume(
        self, recorder: Recorder, size_gib: int | None, volume_id: str | None
    ) -> ResourceRecord: ...

    def launch_nodes(
        self, requests: Sequence[NodeRequest], recorder: Recorder, say: Say
    ) -> list[NodeRecord]: ...

    def terminate_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> None: ...

    def stop_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> None:
        """Stop the nodes' machines and wait until they are; their disks and /data stay."""

    def start_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> list[NodeRecord]:
        """Start stopped machines and wait until they run; the records with today's endpoints."""

    def describe_nodes(self) -> list[NodeView]: ...

    def bootstrap_settings(self, private_cidr: str) -> BootstrapSettings: ...

    def sweep(
        self, state: ClusterState | None, keep_volume: bool, say: Say, keep_images: bool = False
    ) -> SweepResult:
        """Remove what the ledger lists and all found by label/tag; idempotent.

        ``keep_images`` keeps the registry's images where they outlive the
        nodes (AWS: its S3 prefix), listed in the result as kept.
        """

    def list_clusters(self) -> dict[str, int]:
        """Clusters found by label/tag, with how many nodes each has."""


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

    def prestart(self, slots: Sequence[NodeSlot], recorder: Recorder, say: Say) -> None: ...


DEAD_STATES = frozenset({"stopping", "stopped", "shutting-down", "terminated"})


@dataclass(frozen=True)
class BootFailure:
    """A node whose machine died while the manager waited for it to boot."""

    state: str  # the machine's state: stopped, terminated, restarting, ...
    reason: str  # the provider's words for why (EC2's state reason, a container's last lines)
    fix: str = ""  # what to do, when the provider knows the cause


@runtime_checkable
class BootWatcher(Protocol):
    """A provider that can say why a booting node's machine died (more than its state)."""

    def boot_failures(self, nodes: Sequence[NodeRecord]) -> dict[str, BootFailure]: ...


def boot_failures(provider: Provider, nodes: Sequence[NodeRecord]) -> dict[str, BootFailure]:
    """The nodes among ``nodes`` whose machine is gone or going while they boot, by name.

    A provider that knows more says so itself (``BootWatcher``); any other is
    judged by ``describe_nodes``: a machine stopped or terminated will never boot.
    """
    if isinstance(provider, BootWatcher):
        return provider.boot_failures(nodes)
    wanted = {n.instance_id for n in nodes}
    return {
        view.name: BootFailure(view.state, f"its machine {view.instance_id} is {view.state}")
        for view in provider.describe_nodes()
        if view.instance_id in wanted and view.state in DEAD_STATES
    }


@runtime_checkable
class HostRoom(Protocol):
    """A provider whose host has a limit that more nodes can exceed (local: inotify)."""

    def check_room(self, new_nodes: int) -> None:
        """Raise a ClusterousError naming the limit and its fix if ``new_nodes`` won't fit."""
