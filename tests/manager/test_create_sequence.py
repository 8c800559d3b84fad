"""Create is one sequence on every provider: controller, token, groups, Ready.

The provider and the readiness here are fakes at the edge that log what the
manager asks of them, in order; a provider that can start machines ahead of
their user-data gets the other nodes started while the controller configures
itself, and their launch still carries the controller's join token.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions
from clusterous.manager.ledger import Ledger
from clusterous.manager.plan import default_groups, plan_cluster
from clusterous.manager.report import SilentReporter
from clusterous.providers.base import (
    InstanceType,
    NetworkInfo,
    NodeRequest,
    NodeSlot,
    Recorder,
    Report,
    Role,
)
from clusterous.records import ClusterState, NodeRecord, ResourceRecord

TOKEN = "SWMTKN-1-sequence"


class LoggingProvider:
    name = "fake"

    def __init__(self, log: list[str], ahead: bool) -> None:
        self.log = log
        if ahead:
            self.prestart = self._prestart  # only then is it a Prestarter

    def preflight(self) -> None:
        pass

    def instance_types(self) -> dict[str, InstanceType]:
        return {"t": InstanceType("t", 1, 1024)}

    def default_instance_type(self, role: Role) -> str:
        return "t"

    def check_instance_types(self, names: Sequence[str]) -> None:
        pass

    def find_existing(self) -> list[str]:
        return []

    def create_network(self, recorder: Recorder) -> NetworkInfo:
        resource = ResourceRecord("network", "net-1")
        recorder.record_resource(resource)
        return NetworkInfo(resource, "10.0.0.0/24")

    def create_shared_volume(
        self, recorder: Recorder, size_gib: int | None, volume_id: str | None
    ) -> ResourceRecord:
        resource = ResourceRecord("shared-dir", "vol-1")
        recorder.record_resource(resource)
        return resource

    def bootstrap_settings(self, private_cidr: str) -> dict[str, str]:
        return {}

    def _prestart(self, slots: Sequence[NodeSlot], recorder: Recorder, report: Report) -> None:
        self.log.append(f"prestart {sorted(s.name for s in slots)}")

    def launch_nodes(
        self, requests: Sequence[NodeRequest], recorder: Recorder, report: Report
    ) -> list[NodeRecord]:
        tokens = {r.bootstrap.join_token for r in requests}
        self.log.append(f"launch {sorted(r.name for r in requests)} token={tokens.pop() or '-'}")
        nodes = [
            NodeRecord(r.name, r.group, r.instance_type, f"i-{r.name}", "10.0.0.9", "127.0.0.1", 22)
            for r in requests
        ]
        for node in nodes:
            recorder.record_node(node)
        return nodes


@dataclass
class LoggingLink:
    ledger: Ledger
    log: list[str]

    def join_token(self) -> str:
        self.log.append("join_token")
        return TOKEN

    def wait_ready(self, nodes: Sequence[NodeRecord], deadline: float) -> None:
        self.log.append(f"wait_ready {sorted(n.name for n in nodes)}")
        for node in nodes:
            self.ledger.record_node(replace(node, ready=True))


@dataclass
class LoggingReadiness:
    ledger: Ledger
    log: list[str]

    @contextmanager
    def controller(self, state: ClusterState, deadline: float) -> Iterator[LoggingLink]:
        self.log.append("controller configured")
        yield LoggingLink(self.ledger, self.log)


def create(tmp_path: Path, ahead: bool) -> list[str]:
    log: list[str] = []
    provider = LoggingProvider(log, ahead)
    home = Home(tmp_path)
    ledger = Ledger(home, "seq")
    plan = plan_cluster("seq", provider, "p", default_groups(2, None, None))  # type: ignore[arg-type]
    creator = ClusterCreator(
        plan,
        provider,  # type: ignore[arg-type]
        ledger,
        ClusterAccess.of(home, "seq"),
        SilentReporter(),
        CreateOptions(30),
        readiness=LoggingReadiness(ledger, log),
    )
    state = creator.create()
    assert state.status == "ready" and all(n.ready for n in state.nodes)
    return log


EVERY_NODE = "['controller', 'master-1', 'worker-1', 'worker-2']"


def test_create_launches_the_controller_then_the_groups_with_its_join_token(
    tmp_path: Path,
) -> None:
    assert create(tmp_path, ahead=False) == [
        "launch ['controller'] token=-",
        "controller configured",
        "join_token",
        f"launch ['master-1', 'worker-1', 'worker-2'] token={TOKEN}",
        f"wait_ready {EVERY_NODE}",
    ]


def test_nodes_a_provider_can_start_ahead_boot_while_the_controller_configures_itself(
    tmp_path: Path,
) -> None:
    assert create(tmp_path, ahead=True) == [
        "launch ['controller'] token=-",
        "prestart ['master-1', 'worker-1', 'worker-2']",
        "controller configured",
        "join_token",
        f"launch ['master-1', 'worker-1', 'worker-2'] token={TOKEN}",
        f"wait_ready {EVERY_NODE}",
    ]
