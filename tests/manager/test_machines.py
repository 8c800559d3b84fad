"""A node's machine that dies while the manager waits for it ends the wait at once, with why.

The providers here are the fakes at the edge (``tests.fakes``): one that says
which machines died (``DyingProvider``), one judged by its ``describe_nodes``
alone, one whose host has no room. The clock is injected: no test waits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import Mock

import pytest

from clusterous.errors import ClusterousError, ExitCode
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions
from clusterous.manager.ledger import Ledger
from clusterous.manager.machines import CHECK_SECONDS, MachineDied, MachineWatch
from clusterous.manager.plan import default_groups, plan_cluster
from clusterous.manager.readiness import SwarmLink, SwarmReadiness
from clusterous.manager.report import SilentReporter
from clusterous.manager.scale import ScaleContext, add_nodes
from clusterous.providers.base import BootFailure, NodeView
from clusterous.records import ClusterState, NodeRecord
from clusterous.remote.ssh import CommandResult, Session, SSHUnavailable
from tests.fakes import CrampedProvider, DyingProvider, FakeClock, FakeLink, FakeProvider

CONTROLLER = NodeRecord("controller", "controller", "t3.medium", "i-c", "10.0.0.5", "127.0.0.1", 22)
WORKER = NodeRecord("worker-1", "worker", "t3.medium", "i-w1", "10.0.0.6")
RESTARTING = BootFailure(
    "restarting",
    "the last lines of 'docker logs clusterous-c-worker-1':\n"
    "Failed to allocate manager object: Too many open files",
    "sudo sysctl -w fs.inotify.max_user_instances=1024",
)


class Described(FakeProvider):
    """A provider that knows only ``describe_nodes``: the default judgement applies."""

    def __init__(self, views: list[NodeView]) -> None:
        super().__init__()
        self.views = views

    def describe_nodes(self) -> list[NodeView]:
        return self.views


class Unanswering(FakeProvider):
    def describe_nodes(self) -> list[NodeView]:
        raise ConnectionError("the engine did not answer")


def view(node: NodeRecord, state: str) -> NodeView:
    return NodeView(node.name, node.group, node.instance_type, node.instance_id, state)


def test_a_stopped_or_terminated_machine_fails_the_check_naming_node_and_state() -> None:
    provider = Described([view(CONTROLLER, "running"), view(WORKER, "terminated")])
    with pytest.raises(MachineDied) as failure:
        MachineWatch(provider, FakeClock()).check([CONTROLLER, WORKER])
    assert "node worker-1 (terminated)" in failure.value.what
    assert "i-w1 is terminated" in str(failure.value.why)
    assert failure.value.fix and "then run the command again" in failure.value.fix
    assert failure.value.exit_code == ExitCode.FAILED


def test_a_pending_or_running_machine_is_no_failure() -> None:
    provider = Described([view(CONTROLLER, "running"), view(WORKER, "pending")])
    MachineWatch(provider, FakeClock()).check([CONTROLLER, WORKER])


def test_the_providers_own_reason_and_fix_are_told() -> None:
    provider = DyingProvider({"worker-1": RESTARTING})
    with pytest.raises(MachineDied) as failure:
        MachineWatch(provider, FakeClock()).check([CONTROLLER, WORKER])
    assert "worker-1 (restarting)" in failure.value.what
    assert "Too many open files" in str(failure.value.why)
    assert failure.value.fix == RESTARTING.fix


def test_several_dead_machines_are_all_named() -> None:
    dead = BootFailure("stopped", "EC2 says: Server.SpotInstanceTermination")
    provider = DyingProvider({"controller": dead, "worker-1": RESTARTING})
    with pytest.raises(MachineDied, match=r"nodes controller \(stopped\), worker-1 \(restarting\)"):
        MachineWatch(provider, FakeClock()).check([CONTROLLER, WORKER])


def test_a_provider_that_cannot_answer_now_is_no_news() -> None:
    MachineWatch(Unanswering(), FakeClock()).check([CONTROLLER, WORKER])


def test_a_fast_polling_wait_asks_the_provider_at_most_every_ten_seconds() -> None:
    clock, provider = FakeClock(), DyingProvider()
    check = MachineWatch(provider, clock).every_so_often([WORKER])
    for _ in range(int(3 * CHECK_SECONDS / 0.5)):
        check()
        clock.sleep(0.5)
    assert provider.asked == 2  # at 10 s and 20 s; at 30 s the loop ended


# ---------------------------------------------------------------- the waits that watch


def _readiness(tmp_path: Path, clock: FakeClock, provider: FakeProvider) -> SwarmReadiness:
    home = Home(tmp_path)
    return SwarmReadiness(
        ClusterAccess.of(home, "c"),
        Ledger(home, "c"),
        SilentReporter(),
        clock=clock,
        sleep=clock.sleep,
        watch=MachineWatch(provider, clock),
    )


def _state() -> ClusterState:
    state = ClusterState("c", "aws", "aws")
    state.nodes += [CONTROLLER, WORKER]
    return state


def test_the_controller_login_wait_ends_when_its_machine_dies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clusterous.manager import readiness as module

    def connect(*args: object, **kwargs: object) -> object:
        raise SSHUnavailable("cannot reach", "connection refused")

    monkeypatch.setattr(module, "connect", connect)
    clock = FakeClock()
    provider = DyingProvider({"controller": BootFailure("terminated", "EC2 says: spot")})
    readiness = _readiness(tmp_path, clock, provider)
    start = clock.now
    with pytest.raises(MachineDied, match=r"node controller \(terminated\)"):
        readiness._wait_for_login(_state(), clock.now + 600, readiness._machine_check(_state()))
    assert clock.now - start <= CHECK_SECONDS + 1  # not the 600 s deadline


def test_the_controller_bootstrap_wait_ends_when_its_machine_dies(tmp_path: Path) -> None:
    clock = FakeClock()
    provider = DyingProvider({"controller": RESTARTING})
    session = Mock(spec=Session)
    session.run.return_value = CommandResult(0, "clusterous-bootstrap: docker: starting\n", "")
    readiness = _readiness(tmp_path, clock, provider)
    start = clock.now
    with pytest.raises(MachineDied, match="controller"):
        readiness._wait_for_bootstrap(session, clock.now + 600, readiness._machine_check(_state()))
    assert clock.now - start <= CHECK_SECONDS + 1


def test_the_controller_wait_does_not_look_at_other_nodes(tmp_path: Path) -> None:
    """add-nodes waits for the controller of a running cluster: an old node stopped is no matter."""
    clock = FakeClock()
    provider = DyingProvider({"worker-1": RESTARTING})
    check = _readiness(tmp_path, clock, provider)._machine_check(_state())
    clock.sleep(CHECK_SECONDS)
    check()
    assert provider.asked == 1


class NoNodesYet:
    """A docker client whose Swarm never lists a node (the nodes have not joined)."""

    class nodes:  # mirrors DockerClient.nodes
        @staticmethod
        def list() -> list[object]:
            return []


def test_the_swarm_wait_ends_when_a_waiting_nodes_machine_dies(tmp_path: Path) -> None:
    from clusterous.engine.swarm import Swarm

    clock = FakeClock()
    provider = DyingProvider({"worker-1": RESTARTING})
    home = Home(tmp_path)
    link = SwarmLink(
        Swarm(NoNodesYet(), clock=clock, sleep=clock.sleep),
        Ledger(home, "c"),
        SilentReporter(),
        ClusterAccess.of(home, "c"),
        Mock(spec=Session),
        MachineWatch(provider, clock),
    )
    start = clock.now
    with pytest.raises(MachineDied, match=r"worker-1 \(restarting\)"):
        link.wait_ready([WORKER], clock.now + 600)
    assert clock.now - start <= CHECK_SECONDS + 1


# ---------------------------------------------------------------- create and add-nodes


@dataclass
class DyingLink(FakeLink):
    """Swarm waits as a real link does: the machine watch ends it (its machines died)."""

    watch: MachineWatch | None = None

    def wait_ready(self, nodes: list[NodeRecord], deadline: float) -> None:  # type: ignore[override]
        assert self.watch is not None
        self.watch.check(nodes)


@dataclass
class DyingReadiness:
    ledger: Ledger
    watch: MachineWatch

    @contextmanager
    def controller(self, state: ClusterState, deadline: float) -> Iterator[DyingLink]:
        yield DyingLink(self.ledger, [], watch=self.watch)


def _creator(tmp_path: Path, provider: FakeProvider, readiness: object = None) -> ClusterCreator:
    home = Home(tmp_path)
    ledger = Ledger(home, "mc")
    return ClusterCreator(
        plan_cluster("mc", provider, "p", default_groups(2, None, None)),
        provider,
        ledger,
        ClusterAccess.of(home, "mc"),
        SilentReporter(),
        CreateOptions(600),
        readiness=readiness,  # type: ignore[arg-type]
    )


def test_the_real_readiness_of_create_watches_the_providers_machines(tmp_path: Path) -> None:
    provider = DyingProvider()
    readiness = _creator(tmp_path, provider).readiness
    assert isinstance(readiness, SwarmReadiness) and readiness.watch is not None
    assert readiness.watch.provider is provider


def test_a_create_whose_node_machine_died_is_rolled_back_and_exits_1(tmp_path: Path) -> None:
    provider = DyingProvider({"worker-1": RESTARTING})
    ledger = Ledger(Home(tmp_path), "mc")
    creator = _creator(
        tmp_path, provider, DyingReadiness(ledger, MachineWatch(provider, FakeClock()))
    )
    with pytest.raises(ClusterousError) as failure:
        creator.create()
    text = failure.value.render()
    assert "waiting for every node to be Ready" in text and "worker-1 (restarting)" in text
    assert "max_user_instances" in text and "everything made so far was removed" in text
    assert failure.value.exit_code == ExitCode.FAILED
    assert provider.swept and provider.made == [] and not ledger.exists()


def test_a_create_that_would_not_fit_the_host_is_refused_before_anything_is_made(
    tmp_path: Path,
) -> None:
    provider = CrampedProvider(room=3)  # the controller, a master, two workers: 4
    with pytest.raises(ClusterousError, match="4 more nodes would not fit") as failure:
        _creator(tmp_path, provider).create()
    assert failure.value.exit_code == ExitCode.FAILED
    assert provider.log == ["check_room 4"] and provider.made == []


def test_add_nodes_that_would_not_fit_the_host_are_refused_before_any_launch(
    tmp_path: Path,
) -> None:
    from tests.fakes import FakeReadiness

    provider = CrampedProvider(room=4)
    ledger = Ledger(Home(tmp_path), "mc")
    _creator(tmp_path, provider, FakeReadiness(ledger)).create()
    provider.log.clear()
    ctx = ScaleContext(
        provider,
        ledger,
        ClusterAccess.of(Home(tmp_path), "mc"),
        SilentReporter(),
        readiness=FakeReadiness(ledger),
    )
    with pytest.raises(ClusterousError, match="5 more nodes would not fit"):
        add_nodes(ctx, None, 5, None)
    assert provider.log == ["check_room 5"]
    assert len(ledger.load().nodes) == 4


def test_a_start_that_would_not_fit_the_host_is_refused_before_any_machine_starts(
    tmp_path: Path,
) -> None:
    from clusterous.manager.pause import start_cluster
    from tests.fakes import FakeReadiness

    provider = CrampedProvider(room=4)
    ledger = Ledger(Home(tmp_path), "mc")
    _creator(tmp_path, provider, FakeReadiness(ledger)).create()
    provider.room, provider.log[:] = 3, []  # another cluster took the room while this one slept
    ctx = ScaleContext(
        provider,
        ledger,
        ClusterAccess.of(Home(tmp_path), "mc"),
        SilentReporter(),
        readiness=FakeReadiness(ledger),
    )
    with pytest.raises(ClusterousError, match="4 more nodes would not fit"):
        start_cluster(ctx)
    assert provider.log == ["check_room 4"]
