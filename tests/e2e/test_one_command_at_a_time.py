"""Two real CLI processes at once on one real local cluster, and damaged local state.

One cluster serves the whole module, in order: two creates of one name race
for it; a second command meets an add-nodes that holds the cluster's lock (the
holder is frozen with SIGSTOP, so "while it runs" needs no timing); a command
killed while holding the lock leaves a stale lock that the next one takes
over; a damaged state file is set aside and rebuilt by workon; and destroy,
facing a damaged state file, sets it aside and sweeps the cluster by label,
leaving nothing that carries it. Everything is removed by label at the end,
pass or fail, and only the CLI processes started here are ever signalled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from tests.e2e.cluster_helpers import (
    CliOnHome,
    Run,
    labelled,
    nodes_by_name,
    remove_cluster_resources,
    unique_cluster_name,
)

WAIT = 120.0  # generous bound on a condition that normally holds within a second


@dataclass
class Race:
    name: str
    cli: CliOnHome
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self, *args: str) -> subprocess.Popen[str]:
        process = self.cli.popen(*args)
        self.started.append(process)
        return process

    @property
    def lock_file(self) -> Path:
        return self.cli.home / "locks" / f"{self.name}.lock"

    @property
    def state_file(self) -> Path:
        return self.cli.home / "clusters" / self.name / "state.json"

    def lock_holder_pid(self) -> int | None:
        try:
            return int(json.loads(self.lock_file.read_text())["pid"])
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def freeze_once_locked(self, process: subprocess.Popen[str]) -> None:
        """Stop ``process`` as soon as it holds the cluster's lock (it keeps holding it)."""
        deadline = time.monotonic() + WAIT
        while self.lock_holder_pid() != process.pid:
            assert process.poll() is None, f"ended before taking the lock:\n{finish(process)}"
            assert time.monotonic() < deadline, "never took the lock"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGSTOP)


def finish(process: subprocess.Popen[str]) -> str:
    out, _ = process.communicate(timeout=600)
    return out


@pytest.fixture(scope="module")
def race(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Race]:
    race = Race(unique_cluster_name("lock"), CliOnHome(tmp_path_factory.mktemp("home")))
    try:
        yield race
    finally:
        for process in race.started:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGCONT)
                process.kill()
                process.wait()
        remove_cluster_resources(docker_client, race.name)


def assert_refused_as_busy(run: Run, holder: str, pid: int, name: str) -> None:
    assert run.returncode == 1, run.output
    assert f"cluster '{name}' is busy" in run.stderr
    assert f"'{holder}' (pid {pid}, since " in run.stderr
    assert "Internal error" not in run.output and "Traceback" not in run.output


def test_two_creates_of_one_name_started_together_one_wins_the_other_leaves_it_intact(
    race: Race,
) -> None:
    creates = [race.start("create", "--name", race.name, "--workers", "1") for _ in range(2)]
    outputs = [finish(p) for p in creates]
    codes = sorted(p.returncode for p in creates)
    assert codes[0] == 0 and codes[1] in (1, 2), outputs
    loser = outputs[[p.returncode for p in creates].index(codes[1])]
    assert "is busy" in loser or "already exist" in loser, loser  # lock, ledger or labels
    assert "rolling back" not in loser and "Internal error" not in loser

    nodes = nodes_by_name(race.cli.status(race.name))
    assert sorted(nodes) == ["controller", "master-1", "worker-1"]
    assert {n["swarm"] for n in nodes.values()} == {"ready"}


def test_while_add_nodes_runs_a_second_add_nodes_and_destroy_exit_1_naming_it(
    race: Race,
) -> None:
    first = race.start("add-nodes", "1", "--cluster", race.name)
    race.freeze_once_locked(first)
    try:
        again = race.cli("add-nodes", "1", "--cluster", race.name, timeout=WAIT)
        destroy = race.cli("destroy", race.name, "--yes", "--delete-volume", timeout=WAIT)
        shrink = race.cli("rm-nodes", "1", "--cluster", race.name, timeout=WAIT)
        status = race.cli("status", race.name, "--json", timeout=WAIT)
        listing = race.cli("ls-clusters", "--json", timeout=WAIT)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    holder = f"clusterous add-nodes 1 --cluster {race.name}"
    for refused in (again, destroy, shrink):
        assert_refused_as_busy(refused, holder, first.pid, race.name)
    assert status.returncode == 0, f"a read-only command is not blocked:\n{status.output}"
    assert listing.returncode == 0, f"a read-only command is not blocked:\n{listing.output}"

    output = finish(first)
    assert first.returncode == 0, output
    assert "Added worker-2" in output
    nodes = nodes_by_name(race.cli.status(race.name))
    assert sorted(nodes) == ["controller", "master-1", "worker-1", "worker-2"]
    assert {n["state"] for n in nodes.values()} == {"up"}


def test_a_lock_left_by_a_killed_command_is_taken_over_with_a_message(race: Race) -> None:
    for _ in range(3):  # a quit that ends before it is frozen has left no lock: try again
        killed = race.start("quit", "--yes", "--cluster", race.name)
        race.freeze_once_locked(killed)
        still_held = race.lock_holder_pid() == killed.pid
        killed.kill()
        killed.wait()
        if still_held:
            break
    else:
        pytest.fail("quit never stayed frozen while holding the lock")

    after = race.cli.ok("quit", "--yes", "--cluster", race.name)
    assert f"taking over the lock of cluster '{race.name}'" in after.stderr
    assert f"(pid {killed.pid}" in after.stderr
    assert "that process is no longer running" in after.stderr


def test_workon_sets_a_truncated_state_file_aside_and_rebuilds_it_from_the_cluster(
    race: Race,
) -> None:
    whole = race.state_file.read_text()
    race.state_file.write_text(whole[: len(whole) // 2])

    status = race.cli("status", race.name)
    assert status.returncode == 1, status.output
    assert f"the state file of cluster '{race.name}' is damaged" in status.stderr
    assert f"clusterous workon {race.name}" in status.stderr
    assert "Internal error" not in status.output and "Traceback" not in status.output

    listing = json.loads(race.cli.ok("ls-clusters", "--json").stdout)
    row = next(c for c in listing if c["name"] == race.name)
    assert row["status"].startswith("state file damaged"), row

    rebuilt = race.cli.ok("workon", race.name)
    assert "set aside as" in rebuilt.stderr
    aside = list(race.state_file.parent.glob("state.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_text() == whole[: len(whole) // 2]
    nodes = nodes_by_name(race.cli.status(race.name))
    assert sorted(nodes) == ["controller", "master-1", "worker-1", "worker-2"]


def test_destroy_sets_a_non_utf8_state_file_aside_and_sweeps_the_cluster_by_label(
    race: Race, docker_client: docker.DockerClient
) -> None:
    assert labelled(docker_client, race.name)
    race.state_file.write_bytes(b"\xff\xfe" + race.state_file.read_bytes())

    destroyed = race.cli.ok("destroy", race.name, "--yes", "--delete-volume")
    assert "not UTF-8 text" in destroyed.stderr
    assert "set aside as" in destroyed.stderr
    assert "nothing billable left" in destroyed.stdout
    assert labelled(docker_client, race.name) == []
    assert not race.state_file.exists()
    assert len(list(race.state_file.parent.glob("state.json.damaged-*"))) == 2
