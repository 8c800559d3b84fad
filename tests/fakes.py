"""Every fake of the test suite, in one module that mypy checks against the real interfaces.

A fake stands in at an edge the tests cannot reach (a cloud that never boots
its machines, a clock that must not really pass) and logs what it is asked,
in order. The assignments at the bottom make mypy prove each fake still
conforms to the Protocol it stands in for: a member added to ``Provider`` or
``Readiness`` and missing here fails the type check, not a test run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from clusterous import cancel
from clusterous.cancel import Cancelled
from clusterous.errors import ClusterousError
from clusterous.manager.ledger import Ledger
from clusterous.manager.readiness import ControllerLink, Readiness
from clusterous.providers.base import (
    Adopter,
    BootFailure,
    BootstrapSettings,
    BootWatcher,
    Catalog,
    CostLine,
    HostRoom,
    ImageSource,
    InstanceType,
    KeptVolumes,
    Meter,
    NetworkInfo,
    NodeRequest,
    NodeSlot,
    NodeView,
    Prestarter,
    Provider,
    Recorder,
    Role,
    Say,
    SweepResult,
)
from clusterous.records import ClusterState, NodeRecord, ResourceRecord

FAKE_TOKEN = "SWMTKN-1-fake-join-token"

# ---------------------------------------------------------------- time


@dataclass
class FakeClock:
    """Time that passes only when the code under test sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def waited(self) -> float:
        return sum(self.sleeps)


# ---------------------------------------------------------------- readiness without SSH


@dataclass
class FakeLink:
    """Swarm as a cloud that never boots cannot give it: every launched node 'joins' at once."""

    ledger: Ledger
    log: list[str]
    fail_wait: bool = False
    interrupt_wait: bool = False  # Ctrl-C while waiting: the cancel event set, as the handler does

    def join_token(self) -> str:
        self.log.append("join_token")
        return FAKE_TOKEN

    def wait_ready(self, nodes: Sequence[NodeRecord], deadline: float) -> None:
        self.log.append(f"wait_ready {sorted(n.name for n in nodes)}")
        if self.fail_wait:
            raise ClusterousError("nodes did not join the Swarm in time", "fake readiness")
        if self.interrupt_wait:
            cancel.current().set()
            cancel.sleep(3600)  # ends at once: the work is cancelled
        for node in nodes:
            self.ledger.record_node(replace(node, ready=True))

    def drain(self, nodes: Sequence[NodeRecord], deadline: float) -> None:
        self.log.append(f"drain {sorted(n.name for n in nodes)}")

    def forget(self, nodes: Sequence[NodeRecord]) -> None:
        self.log.append(f"forget {sorted(n.name for n in nodes)}")


@dataclass
class FakeReadiness:
    ledger: Ledger
    log: list[str] = field(default_factory=list)
    fail_controller: bool = False
    fail_wait: bool = False
    interrupt_wait: bool = False

    @contextmanager
    def controller(self, state: ClusterState, deadline: float) -> Iterator[FakeLink]:
        controller = state.controller
        self.log.append(f"controller {controller.instance_id if controller else None}")
        if self.fail_controller:
            raise ClusterousError("the controller did not accept SSH in time", "fake readiness")
        yield FakeLink(self.ledger, self.log, self.fail_wait, self.interrupt_wait)


# ---------------------------------------------------------------- a provider at the edge


class FakeCatalog:
    def instance_types(self) -> dict[str, InstanceType]:
        return {"t": InstanceType("t", 1, 1024)}

    def default_instance_type(self, role: Role) -> str:
        return "t"

    def check_instance_types(self, names: Sequence[str]) -> None:
        pass

    def image_of(self, instance_type: str) -> str:
        return "fake-image"

    def running_costs(self, nodes: int, new_volume_gib: int | None) -> list[CostLine]:
        return []


class FakeProvider:
    """Records what it 'makes' in the ledger as a real provider does, and logs each launch.

    With ``failure``, the first launch records its first node, then raises it.
    """

    name = "fake"

    def __init__(self, log: list[str] | None = None, failure: BaseException | None = None):
        self.log = log if log is not None else []
        self.failure = failure
        self.made: list[str] = []
        self.swept = False
        self.cluster_id = ""
        self.catalog: Catalog = FakeCatalog()
        self.kept_volumes: KeptVolumes | None = None
        self.adopter: Adopter | None = None
        self.meter: Meter | None = None
        self.image_source: ImageSource | None = None

    def owner_ids(self) -> dict[str, list[str]]:
        return {self.cluster_id: list(self.made)} if self.made else {}

    def preflight(self) -> None:
        pass

    def describe_resources(self, size_gib: int | None, volume_id: str | None) -> list[str]:
        return []

    def find_existing(self) -> list[str]:
        return list(self.made)

    def create_network(self, recorder: Recorder) -> NetworkInfo:
        resource = ResourceRecord("network", "net-1")
        self.made.append("net-1")
        recorder.record_resource(resource)
        return NetworkInfo(resource, "10.0.0.0/24")

    def create_shared_volume(
        self, recorder: Recorder, size_gib: int | None, volume_id: str | None
    ) -> ResourceRecord:
        resource = ResourceRecord("shared-dir", "vol-1")
        self.made.append("vol-1")
        recorder.record_resource(resource)
        return resource

    def launch_nodes(
        self, requests: Sequence[NodeRequest], recorder: Recorder, say: Say
    ) -> list[NodeRecord]:
        if self.failure is not None:
            first = requests[0]
            self.made.append(first.name)
            recorder.record_node(NodeRecord(first.name, first.group, first.instance_type, "i-1"))
            raise self.failure
        tokens = {r.bootstrap.join_token for r in requests}
        self.log.append(f"launch {sorted(r.name for r in requests)} token={tokens.pop() or '-'}")
        nodes = [
            NodeRecord(r.name, r.group, r.instance_type, f"i-{r.name}", "10.0.0.9", "127.0.0.1", 22)
            for r in requests
        ]
        self.made += [n.name for n in nodes]
        for node in nodes:
            recorder.record_node(node)
        return nodes

    def terminate_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> None:
        self.log.append(f"terminate {sorted(n.name for n in nodes)}")

    def stop_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> None:
        self.log.append(f"stop {sorted(n.name for n in nodes)}")

    def start_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> list[NodeRecord]:
        self.log.append(f"start {sorted(n.name for n in nodes)}")
        return list(nodes)

    def describe_nodes(self) -> list[NodeView]:
        return []

    def bootstrap_settings(self, private_cidr: str) -> BootstrapSettings:
        return BootstrapSettings(swarm_addr_pool="10.99.0.0/16")

    def sweep(
        self, state: ClusterState | None, keep_volume: bool, say: Say, keep_images: bool = False
    ) -> SweepResult:
        self.swept = True
        removed, self.made = self.made, []
        return SweepResult(removed=removed)

    def list_clusters(self) -> dict[str, int]:
        return {}


class PrestartingFakeProvider(FakeProvider):
    """A fake provider that can start machines ahead of their user-data, as the local one can."""

    def prestart(self, slots: Sequence[NodeSlot], recorder: Recorder, say: Say) -> None:
        self.log.append(f"prestart {sorted(s.name for s in slots)}")


class DyingProvider(FakeProvider):
    """A provider whose machines die: ``dead`` names the nodes, with what it says of each.

    It is asked through ``boot_failures``; ``asked`` counts the questions.
    """

    def __init__(self, dead: dict[str, BootFailure] | None = None) -> None:
        super().__init__()
        self.dead = dict(dead or {})
        self.asked = 0

    def boot_failures(self, nodes: Sequence[NodeRecord]) -> dict[str, BootFailure]:
        self.asked += 1
        return {n.name: self.dead[n.name] for n in nodes if n.name in self.dead}


class CrampedProvider(FakeProvider):
    """A provider whose host has room for ``room`` more nodes (local: the inotify limit)."""

    def __init__(self, room: int) -> None:
        super().__init__()
        self.room = room

    def check_room(self, new_nodes: int) -> None:
        self.log.append(f"check_room {new_nodes}")
        if new_nodes > self.room:
            raise ClusterousError(f"{new_nodes} more nodes would not fit", "fake host limit")


class CancellingProvider(FakeProvider):
    """Ctrl-C mid-launch: the create's cancel event is set, as the signal handler sets it.

    Its sweep waits (a rollback's wait must not be cut by the create's cancel);
    with ``second_ctrl_c`` the rollback itself is interrupted.
    """

    def __init__(self, second_ctrl_c: bool = False) -> None:
        super().__init__(failure=Cancelled())
        self.second_ctrl_c = second_ctrl_c

    def launch_nodes(
        self, requests: Sequence[NodeRequest], recorder: Recorder, say: Say
    ) -> list[NodeRecord]:
        cancel.current().set()
        return super().launch_nodes(requests, recorder, say)

    def sweep(
        self, state: ClusterState | None, keep_volume: bool, say: Say, keep_images: bool = False
    ) -> SweepResult:
        cancel.sleep(0)  # a wait of the rollback: the create's cancel must not cut it
        if self.second_ctrl_c:
            raise KeyboardInterrupt
        return super().sweep(state, keep_volume, say)


# ---------------------------------------------------------------- each fake conforms (mypy)


def _conformance(ledger: Ledger) -> None:
    """Never run: mypy checks these assignments against the Protocols."""
    _provider: Provider = FakeProvider()
    _cancelling: Provider = CancellingProvider()
    _prestarter: Prestarter = PrestartingFakeProvider()
    _watcher: BootWatcher = DyingProvider()
    _cramped: HostRoom = CrampedProvider(0)
    _catalog: Catalog = FakeCatalog()
    _readiness: Readiness = FakeReadiness(ledger)
    _link: ControllerLink = FakeLink(ledger, [])
