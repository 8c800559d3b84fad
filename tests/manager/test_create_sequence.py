"""Create is one sequence on every provider: controller, token, groups, Ready.

The provider and the readiness here are the fakes at the edge (``tests.fakes``)
that log what the manager asks of them, in order; a provider that can start machines ahead of
their user-data gets the other nodes started while the controller configures
itself, and their launch still carries the controller's join token.
"""

from __future__ import annotations

from pathlib import Path

from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions
from clusterous.manager.ledger import Ledger
from clusterous.manager.plan import default_groups, plan_cluster
from clusterous.manager.report import SilentReporter
from tests.fakes import FAKE_TOKEN, FakeProvider, FakeReadiness, PrestartingFakeProvider


def create(tmp_path: Path, ahead: bool) -> list[str]:
    log: list[str] = []
    provider = PrestartingFakeProvider(log) if ahead else FakeProvider(log)
    home = Home(tmp_path)
    ledger = Ledger(home, "seq")
    plan = plan_cluster("seq", provider, "p", default_groups(2, None, None))
    creator = ClusterCreator(
        plan,
        provider,
        ledger,
        ClusterAccess.of(home, "seq"),
        SilentReporter(),
        CreateOptions(30),
        readiness=FakeReadiness(ledger, log),
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
        "controller i-controller",
        "join_token",
        f"launch ['master-1', 'worker-1', 'worker-2'] token={FAKE_TOKEN}",
        f"wait_ready {EVERY_NODE}",
    ]


def test_nodes_a_provider_can_start_ahead_boot_while_the_controller_configures_itself(
    tmp_path: Path,
) -> None:
    assert create(tmp_path, ahead=True) == [
        "launch ['controller'] token=-",
        "prestart ['master-1', 'worker-1', 'worker-2']",
        "controller i-controller",
        "join_token",
        f"launch ['master-1', 'worker-1', 'worker-2'] token={FAKE_TOKEN}",
        f"wait_ready {EVERY_NODE}",
    ]
