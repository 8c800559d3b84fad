"""The profile's central logging reaches every node's bootstrap, and stays in the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions
from clusterous.manager.ledger import Ledger
from clusterous.manager.plan import default_groups, plan_cluster
from clusterous.manager.report import SilentReporter
from clusterous.providers.base import NodeRequest, Recorder, Say
from clusterous.records import LoggingSettings, NodeRecord
from tests.fakes import FakeProvider, FakeReadiness


class BootstrapRecorder(FakeProvider):
    def __init__(self) -> None:
        super().__init__([])
        self.requests: list[NodeRequest] = []

    def launch_nodes(
        self, requests: Sequence[NodeRequest], recorder: Recorder, say: Say
    ) -> list[NodeRecord]:
        self.requests += requests
        return super().launch_nodes(requests, recorder, say)


def test_every_node_is_told_the_logging_level_and_the_controllers_bound(tmp_path: Path) -> None:
    provider = BootstrapRecorder()
    home = Home(tmp_path)
    ledger = Ledger(home, "logs")
    plan = plan_cluster(
        "logs",
        provider,
        "p",
        default_groups(1, None, None),
        logging=LoggingSettings(0, 512),
    )
    ClusterCreator(
        plan,
        provider,
        ledger,
        ClusterAccess.of(home, "logs"),
        SilentReporter(),
        CreateOptions(30),
        readiness=FakeReadiness(ledger, provider.log),
    ).create()

    told = {(r.name, r.bootstrap.logging, r.bootstrap.log_max_use) for r in provider.requests}
    assert told == {
        ("controller", "0", "512M"),
        ("master-1", "0", "512M"),
        ("worker-1", "0", "512M"),
    }
    assert ledger.load().logging == LoggingSettings(0, 512)  # add-nodes tells new nodes the same
