"""Waiting for a controller that configures itself: its bootstrap log decides."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import Mock

import pytest

from clusterous.engine.swarm import Swarm
from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.ledger import Ledger
from clusterous.manager.readiness import SwarmReadiness
from clusterous.manager.report import SilentReporter
from clusterous.remote.ssh import CommandResult, Session


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def readiness(tmp_path: Path, clock: Clock) -> SwarmReadiness:
    home = Home(tmp_path)
    return SwarmReadiness(
        ClusterAccess.of(home, "c"),
        Ledger(home, "c"),
        SilentReporter(),
        clock=clock,
        sleep=clock.sleep,
    )


def session_answering(*tails: str) -> Mock:
    session = Mock(spec=Session)
    session.run.side_effect = [CommandResult(0, tail, "") for tail in tails]
    return session


def test_the_ready_marker_as_last_line_means_configured(tmp_path: Path) -> None:
    clock = Clock()
    session = session_answering(
        "", "clusterous-bootstrap: packages: installing\n", "x\nclusterous-bootstrap: ready\n"
    )
    readiness(tmp_path, clock)._wait_for_bootstrap(session, deadline=100)
    assert session.run.call_count == 3
    assert "/var/log/clusterous-bootstrap.log" in session.run.call_args.args[0]


def test_a_bootstrap_error_fails_at_once_with_the_log(tmp_path: Path) -> None:
    log = "clusterous-bootstrap: error: installing docker.io failed\n"
    with pytest.raises(ClusterousError, match=r"installing docker\.io failed"):
        readiness(tmp_path, Clock())._wait_for_bootstrap(session_answering(log), deadline=100)


def test_no_marker_before_the_deadline_is_a_timeout(tmp_path: Path) -> None:
    clock = Clock()
    session = session_answering(*["clusterous-bootstrap: swarm: created\n"] * 100)
    with pytest.raises(ClusterousError, match="did not finish configuring itself in time"):
        readiness(tmp_path, clock)._wait_for_bootstrap(session, deadline=12)
    assert clock.now >= 12


def test_login_is_retried_while_the_node_still_shows_its_own_host_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until user-data installs the pinned key, the node presents another: wait, never trust it."""
    from clusterous.manager import readiness as module
    from clusterous.records import ClusterState, NodeRecord
    from clusterous.remote.ssh import HostKeyMismatch, SSHUnavailable

    clock = Clock()
    session = Mock(spec=Session)
    answers: list[object] = [
        SSHUnavailable("cannot reach", "refused"),
        HostKeyMismatch("unexpected host key", "cloud-init's own"),
        session,
    ]

    def connect(*args: object, **kwargs: object) -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(module, "connect", connect)
    state = ClusterState("c", "aws", "aws")
    state.nodes.append(
        NodeRecord("controller", "controller", "t3.medium", "i-1", "10.0.0.5", "198.51.100.7", 22)
    )
    assert readiness(tmp_path, clock)._wait_for_login(state, deadline=60) is session
    assert answers == [] and clock.now == 2 * module.LOGIN_RETRY_SECONDS


def test_a_host_key_still_wrong_at_the_deadline_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clusterous.manager import readiness as module
    from clusterous.records import ClusterState, NodeRecord
    from clusterous.remote.ssh import HostKeyMismatch, SSHUnavailable

    def connect(*args: object, **kwargs: object) -> object:
        raise HostKeyMismatch("unexpected host key", "another machine")

    monkeypatch.setattr(module, "connect", connect)
    state = ClusterState("c", "aws", "aws")
    state.nodes.append(
        NodeRecord("controller", "controller", "t3.medium", "i-1", "10.0.0.5", "198.51.100.7", 22)
    )
    with pytest.raises(SSHUnavailable, match="pinned host key in time"):
        readiness(tmp_path, Clock())._wait_for_login(state, deadline=10)


class NoNodesYet:
    """A docker client whose Swarm never lists a node (the nodes have not joined)."""

    class nodes:  # mirrors DockerClient.nodes
        @staticmethod
        def list() -> list[object]:
            return []


def test_a_node_whose_bootstrap_failed_ends_the_wait_at_once_naming_it() -> None:
    from clusterous.engine.swarm import Swarm

    clock = Clock()
    checked: list[list[str]] = []

    def check(waiting: list[str]) -> None:
        checked.append(waiting)
        if clock.now >= 20:
            raise ClusterousError("node worker-2 failed to configure itself", "apt failed")

    swarm = Swarm(NoNodesYet(), clock=clock, sleep=clock.sleep)
    with pytest.raises(ClusterousError, match="worker-2 failed to configure itself"):
        swarm.wait_ready({"i-1": ("worker-1", "w"), "i-2": ("worker-2", "w")}, 600, print, check)
    assert checked[0] == ["worker-1", "worker-2"]
    assert 20 <= clock.now < 25  # long before the deadline


def test_bootstrap_failure_is_told_by_the_error_prefix() -> None:
    from clusterous.manager.readiness import bootstrap_failed

    assert bootstrap_failed(["clusterous-bootstrap: error: installing packages failed"])
    assert not bootstrap_failed(["clusterous-bootstrap: docker: starting the engine"])


class RacingNode:
    """A Swarm node whose version moves on under the first ``races`` updates."""

    def __init__(self, races: int) -> None:
        self.races = races
        self.attrs = {"Spec": {"Role": "worker", "Labels": {"kept": "yes"}}}
        self.updates: list[dict[str, object]] = []

    def update(self, spec: dict[str, object]) -> None:
        import docker

        if self.races:
            self.races -= 1
            raise docker.errors.APIError("rpc error: code = Unknown desc = update out of sequence")
        self.updates.append(spec)


class OneNode:
    def __init__(self, node: RacingNode) -> None:
        self.nodes = Mock(get=Mock(return_value=node))


def test_labels_are_set_again_when_swarm_says_the_update_was_out_of_sequence() -> None:
    clock = Clock()
    node = RacingNode(races=2)
    Swarm(OneNode(node), clock=clock, sleep=clock.sleep).set_labels("n1", {"group": "worker"})
    assert node.updates == [{"Role": "worker", "Labels": {"kept": "yes", "group": "worker"}}]


def test_an_update_that_keeps_racing_or_fails_otherwise_is_raised() -> None:
    import docker

    clock = Clock()
    with pytest.raises(docker.errors.APIError, match="out of sequence"):
        Swarm(OneNode(RacingNode(races=9)), clock=clock, sleep=clock.sleep).drain("n1")
    refusing = RacingNode(races=0)
    refusing.update = Mock(side_effect=docker.errors.APIError("node not found"))  # type: ignore[method-assign]
    with pytest.raises(docker.errors.APIError, match="node not found"):
        Swarm(OneNode(refusing), clock=clock, sleep=clock.sleep).drain("n1")
    assert refusing.update.call_count == 1


def test_a_service_update_runs_again_while_swarm_says_out_of_sequence() -> None:
    import docker

    from clusterous.engine.swarm import in_sequence

    clock, calls = Clock(), []

    def update() -> None:
        calls.append(clock.now)
        if len(calls) < 3:
            raise docker.errors.APIError("rpc error: code = Unknown desc = update out of sequence")

    in_sequence(update, clock.sleep)
    assert len(calls) == 3
