"""The lease arithmetic on the CLI's side, with clocks that are not real.

The node's script answers on the node's clock; the laptop's clock may be hours
off. Every figure the CLI shows or keeps is a difference of two readings of
the node's clock, placed on the laptop's calendar only at the end.
"""

from __future__ import annotations

from pathlib import Path
from unittest.mock import Mock

import pytest

from clusterous.errors import InputError
from clusterous.home import Home
from clusterous.manager.lease import (
    LeaseKeeper,
    LeaseView,
    check_lease_hours,
    duration_words,
    lease_record,
    parse_lease,
)
from clusterous.manager.ledger import Ledger
from clusterous.records import ClusterState, LeaseRecord
from clusterous.remote.ssh import CommandResult, Session
from tests.node.lease_node import BASH, LeaseNode, lease_script_text

HOUR = 3600
NODE_BOOT = 1_000_000  # the controller's clock
LAPTOP_SKEW = -5 * HOUR  # the laptop's clock is five hours behind the node's


def test_seconds_left_and_the_end_on_the_laptops_calendar_ignore_clock_skew() -> None:
    view = parse_lease("now=1000\nexpires=4600\nidle_minutes=0\nactive=\n", 1.0)
    assert view.seconds_left == 3600
    laptop_now = 1000 + LAPTOP_SKEW
    assert view.expires_at(laptop_now) == laptop_now + 3600


def test_a_lease_is_nearly_over_in_its_last_ten_percent() -> None:
    assert not LeaseView(node_now=0, expires=721, max_hours=2.0).nearly_over()
    assert LeaseView(node_now=0, expires=719, max_hours=2.0).nearly_over()
    assert not LeaseView(node_now=0, expires=None, max_hours=2.0).nearly_over()


def test_a_renewal_knows_whether_the_lease_was_nearly_over_before_it() -> None:
    renewed = LeaseView(node_now=100, expires=100 + 7200, previous=100 + 600, max_hours=2.0)
    assert renewed.was_nearly_over()
    calm = LeaseView(node_now=100, expires=100 + 7200, previous=100 + 7000, max_hours=2.0)
    assert not calm.was_nearly_over()


def test_idle_stop_fires_its_minutes_after_the_last_activity() -> None:
    view = parse_lease("now=1300\nexpires=\nidle_minutes=10\nactive=1000\n", 0.0)
    assert view.idle_fires_in == 300
    assert view.seconds_left is None and not view.ended


def test_an_ended_lease_has_no_time_left() -> None:
    view = parse_lease("now=5000\nexpires=4600\nidle_minutes=0\nactive=\n", 1.0)
    assert view.ended and view.seconds_left == 0


@pytest.mark.parametrize("hours", [-1.0, float("nan"), float("inf"), 10 * 365 * 24 + 1])
def test_a_lease_must_be_hours_zero_or_more(hours: float) -> None:
    with pytest.raises(InputError, match="--max-hours must be a number of hours"):
        check_lease_hours(hours, "--max-hours", confirmed=True)


def test_a_lease_over_seven_days_needs_yes() -> None:
    with pytest.raises(InputError, match="more than 7 days") as raised:
        check_lease_hours(24 * 7 + 1, "--max-hours", confirmed=False)
    assert "--yes" in (raised.value.fix or "")
    assert check_lease_hours(24 * 7 + 1, "--max-hours", confirmed=True) == 24 * 7 + 1


def test_a_new_clusters_record_counts_its_lease_from_create() -> None:
    assert lease_record(8.0, 30, now=500.0) == LeaseRecord(8.0, 30, 500.0 + 8 * HOUR)
    assert lease_record(None, 0, now=500.0) == LeaseRecord(0.0, 0, 0.0)


def test_durations_read_as_words() -> None:
    assert [duration_words(s) for s in (40, 720, 7500)] == ["40 s", "12 min", "2 h 05 min"]


# -- the keeper, against the node's real script on the node's clock ---------------------


class NodeClock:
    def __init__(self) -> None:
        self.now = NODE_BOOT


def controller_session(lease: LeaseNode, clock: NodeClock) -> Session:
    """A Session whose commands the node's lease script answers (the SSH part is elsewhere)."""

    def run(command: str, **_: object) -> CommandResult:
        arguments = command.split()[1:]
        done = lease.run(clock.now, *arguments)
        return CommandResult(done.returncode, done.stdout, done.stderr)

    session = Mock(spec=Session)
    session.run.side_effect = run
    return session


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(Home(tmp_path / "home"), "demo")
    ledger.create(ClusterState("demo", "local", "local", lease=LeaseRecord(2.0, 0, 0.0)))
    return ledger


def published_controller(tmp_path: Path) -> tuple[LeaseNode, NodeClock]:
    """A controller whose node script started and published a 2 h lease."""
    script = tmp_path / "clusterous-lease"
    script.write_text(lease_script_text())
    node = LeaseNode.make(tmp_path / "controller", tmp_path / "data" / "lease", script)
    clock = NodeClock()
    node.run(clock.now, "init", "controller", str(2 * HOUR), "0")
    node.run(clock.now, "publish")
    return node, clock


@pytest.mark.skipif(BASH is None, reason="bash runs the node's script")
def test_a_command_renews_the_lease_once_and_warns_when_it_was_nearly_over(
    tmp_path: Path, ledger: Ledger
) -> None:
    node, clock = published_controller(tmp_path)
    warnings: list[str] = []
    laptop = NODE_BOOT + LAPTOP_SKEW
    keeper = LeaseKeeper(ledger, warnings.append, clock=lambda: laptop + 6600)
    session = controller_session(node, clock)

    clock.now += 6600  # 10 minutes left of 2 hours: the last 10 %
    keeper.on_connect(session, ledger.load())
    keeper.on_connect(session, ledger.load())  # a second connection of the same command

    assert isinstance(session.run, Mock) and session.run.call_count == 1
    assert keeper.renewed is not None and keeper.renewed.seconds_left == 2 * HOUR
    assert ledger.load().lease.expires_at == laptop + 6600 + 2 * HOUR
    assert warnings == [
        "the lease of cluster 'demo' had only 10 min left; this command renewed it for 2 h 00 min"
    ]


@pytest.mark.skipif(BASH is None, reason="bash runs the node's script")
def test_a_command_on_an_ended_lease_says_the_nodes_are_ending(
    tmp_path: Path, ledger: Ledger
) -> None:
    node, clock = published_controller(tmp_path)
    warnings: list[str] = []
    clock.now += 2 * HOUR
    LeaseKeeper(ledger, warnings.append).on_connect(controller_session(node, clock), ledger.load())
    assert len(warnings) == 1
    assert "has ended" in warnings[0] and "clusterous destroy demo" in warnings[0]


def test_a_cluster_without_a_lease_is_not_renewed(tmp_path: Path) -> None:
    ledger = Ledger(Home(tmp_path / "home"), "demo")
    ledger.create(ClusterState("demo", "local", "local"))
    session = Mock(spec=Session)
    LeaseKeeper(ledger, print).on_connect(session, ledger.load())
    session.run.assert_not_called()
