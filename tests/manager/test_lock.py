"""The command lock: one command at a time per cluster, who holds it, stale locks taken over.

Processes, pids and the clock are fakes; the flock is real (two open file
descriptions of one file conflict even within one process, as two processes do).
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from clusterous.errors import ExitCode
from clusterous.home import Home
from clusterous.manager.lock import (
    ClusterBusy,
    Holder,
    LocalProcesses,
    LockOptions,
    cluster_lock,
    lock_path,
)

SINCE = 1_800_000_000.0  # 2027-01-15


@dataclass
class FakeProcesses:
    """pid -> start time of the processes that exist."""

    running: dict[int, str] = field(default_factory=dict)

    def start_time(self, pid: int) -> str | None:
        return self.running.get(pid)


@dataclass
class World:
    home: Home
    processes: FakeProcesses
    warnings: list[str] = field(default_factory=list)

    def command(self, pid: int, line: str, started: str = "") -> LockOptions:
        self.processes.running[pid] = started or f"t{pid}"
        return LockOptions(lambda: line, lambda: pid, self.processes, lambda: SINCE)

    def lock(self, options: LockOptions) -> AbstractContextManager[None]:
        return cluster_lock(self.home, "demo", self.warnings.append, options)

    def leave_record(self, holder: Holder) -> None:
        path = lock_path(self.home, "demo")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(holder.to_json())


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(Home(tmp_path), FakeProcesses())


def test_a_second_command_is_refused_at_once_naming_the_holder(world: World) -> None:
    first = world.command(101, "clusterous add-nodes 1")
    second = world.command(202, "clusterous destroy demo --yes")
    with world.lock(first), pytest.raises(ClusterBusy) as refused, world.lock(second):
        pytest.fail("the second command got the lock")
    text = refused.value.render()
    assert "cluster 'demo' is busy" in text
    assert "'clusterous add-nodes 1' (pid 101, since 2027-01-15" in text
    assert "kill 101" in text
    assert refused.value.exit_code == ExitCode.FAILED


def test_the_lock_is_free_again_after_the_command_even_when_it_failed(world: World) -> None:
    first = world.command(101, "clusterous add-nodes 1")
    with pytest.raises(RuntimeError), world.lock(first):
        raise RuntimeError("add-nodes failed")
    with world.lock(world.command(202, "clusterous rm-nodes 1")):
        pass
    assert world.warnings == []


def test_a_command_that_calls_another_does_not_lock_itself_out(world: World) -> None:
    create = world.command(101, "clusterous create cluster.yml")
    with world.lock(create), world.lock(create):
        pass
    with world.lock(world.command(202, "clusterous run env.yml")):
        pass


def test_a_stale_lock_whose_process_is_dead_is_taken_over_with_a_message(world: World) -> None:
    world.leave_record(Holder(4242, "t4242", "clusterous add-nodes 3", SINCE))
    with world.lock(world.command(202, "clusterous destroy demo")):
        pass
    assert len(world.warnings) == 1
    assert "taking over the lock of cluster 'demo'" in world.warnings[0]
    assert "'clusterous add-nodes 3' (pid 4242" in world.warnings[0]
    assert "no longer running" in world.warnings[0]


def test_a_stale_lock_whose_pid_was_reused_by_another_program_is_taken_over(
    world: World,
) -> None:
    world.leave_record(Holder(4242, "t-old", "clusterous add-nodes 3", SINCE))
    world.processes.running[4242] = "t-new"  # same pid, another start time: another program
    with world.lock(world.command(202, "clusterous destroy demo")):
        pass
    assert "pid 4242 is now another program" in world.warnings[0]


def test_a_record_of_a_live_holder_is_respected_where_flock_is_not(world: World) -> None:
    """On a file system that ignores flock, the record alone still keeps commands apart."""
    world.processes.running[4242] = "t4242"
    world.leave_record(Holder(4242, "t4242", "clusterous run env.yml", SINCE))
    with (
        pytest.raises(ClusterBusy, match=re.escape("'clusterous run env.yml' (pid 4242")),
        world.lock(world.command(202, "clusterous quit")),
    ):
        pytest.fail("took the lock of a live command")
    assert world.warnings == []


def test_a_holder_that_has_not_written_its_record_yet_is_still_a_holder(world: World) -> None:
    path = lock_path(world.home, "demo")
    path.parent.mkdir(parents=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with (
            pytest.raises(ClusterBusy, match="another clusterous command, just starting"),
            world.lock(world.command(202, "clusterous quit")),
        ):
            pytest.fail("took a held lock")
    finally:
        os.close(fd)


def test_locks_of_two_clusters_are_independent(world: World) -> None:
    options = world.command(101, "clusterous add-nodes 1")
    other = world.command(202, "clusterous add-nodes 1 --cluster other")
    with (
        world.lock(options),
        cluster_lock(world.home, "other", world.warnings.append, other),
    ):
        pass


def test_the_real_process_table_knows_this_process_and_forgets_an_ended_one() -> None:
    processes = LocalProcesses()
    mine = processes.start_time(os.getpid())
    assert mine is not None and mine == processes.start_time(os.getpid())
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert processes.start_time(int(ended.stdout)) is None


def test_the_holder_record_survives_a_round_trip_and_garbage_reads_as_unknown() -> None:
    holder = Holder(7, "123", "clusterous create", SINCE)
    assert Holder.from_json(holder.to_json()) == holder
    assert Holder.from_json("") is None
    assert Holder.from_json('{"pid": "x"}') is None
