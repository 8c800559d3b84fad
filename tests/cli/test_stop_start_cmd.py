"""`stop`, `start` and the commands that need a cluster's nodes, given bad input or a stopped
cluster: a clear message naming the fix, the right exit code, no traceback.

None of these needs a Docker engine: a stopped cluster is refused from its
state file before anything reaches for the nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clusterous.home import Home
from clusterous.manager.ledger import Ledger
from clusterous.records import ClusterState, NodeRecord

CliRunner = Callable[..., Any]  # the cli_runner fixture of tests/conftest.py
NAME = "paused"


def stopped_cluster(home: Path, status: str = "stopped") -> None:
    controller = NodeRecord("controller", "controller", "small", "abc", "10.0.0.10", "127.0.0.1", 2)
    Ledger(Home(home), NAME).create(
        ClusterState(NAME, "local", "local", status=status, nodes=[controller])
    )


@pytest.mark.parametrize(
    "args",
    [
        ("run", "env.yml", "--cluster", NAME),
        ("add-nodes", "1", "--cluster", NAME),
        ("rm-nodes", "1", "--cluster", NAME),
        ("ssh", "--cluster", NAME, "controller", "--", "true"),
        ("connect", "web", "--cluster", NAME),
        ("logs", "web", "--cluster", NAME),
        ("tunnel", "--cluster", NAME),
        ("quit", "--cluster", NAME),
        ("extend", NAME, "2"),
        ("dashboard", "--cluster", NAME),
        ("ls", "--cluster", NAME),
    ],
)
def test_commands_that_need_the_nodes_refuse_a_stopped_cluster_and_name_start(
    cli_runner: CliRunner, clusterous_home: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    stopped_cluster(clusterous_home)
    (tmp_path / "env.yml").write_text("environment:\n  name: x\n")
    result = cli_runner(*(str(tmp_path / a) if a == "env.yml" else a for a in args))
    assert result.exit_code == 1, result.output
    assert f"cluster '{NAME}' is stopped" in result.stderr
    assert f"run 'clusterous start {NAME}'" in result.stderr
    assert "Traceback" not in result.output


def test_a_stop_that_did_not_finish_is_refused_too_and_says_so(
    cli_runner: CliRunner, clusterous_home: Path
) -> None:
    stopped_cluster(clusterous_home, "stopping")
    result = cli_runner("ssh", "--cluster", NAME, "controller", "--", "true")
    assert result.exit_code == 1
    assert "its stop did not finish" in result.stderr
    assert f"clusterous start {NAME}" in result.stderr


@pytest.mark.parametrize("command", ["stop", "start"])
def test_stop_and_start_of_an_unknown_cluster_are_exit_2(
    cli_runner: CliRunner, command: str
) -> None:
    result = cli_runner(command, "ghost")
    assert result.exit_code == 2, result.output
    assert "no cluster named 'ghost'" in result.stderr


@pytest.mark.parametrize("command", ["stop", "start"])
def test_a_timeout_below_one_second_is_refused_with_exit_2(
    cli_runner: CliRunner, command: str
) -> None:
    result = cli_runner(command, NAME, "--timeout", "0")
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--timeout'" in result.stderr
