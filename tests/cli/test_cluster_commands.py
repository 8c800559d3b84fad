"""Cluster commands given bad input or an unusable engine: a clear message, the right exit code.

None of these needs a Docker engine: they fail before one is used, or prove
what happens when there is none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

CliRunner = Callable[..., Any]  # the cli_runner fixture of tests/conftest.py


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine-here.sock")


def test_create_without_a_docker_engine_says_how_to_start_one(
    no_docker: None, cli_runner: CliRunner
) -> None:
    result = cli_runner("create", "--name", "nodocker")
    assert result.exit_code == 1
    assert "cannot reach the Docker engine" in result.stderr
    assert "systemctl start docker" in result.stderr
    assert "Traceback" not in result.output


def test_status_with_no_cluster_says_how_to_make_one(cli_runner: CliRunner) -> None:
    result = cli_runner("status")
    assert result.exit_code == 2
    assert "no cluster to work on" in result.stderr
    assert "clusterous create" in result.stderr


def test_status_of_an_unknown_cluster_is_exit_2(cli_runner: CliRunner) -> None:
    result = cli_runner("status", "ghost")
    assert result.exit_code == 2
    assert "no cluster named 'ghost'" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("create", "--workers", "-1"), "--workers must be 0 or more"),
        (("create", "--name", "Bad_Name"), "invalid cluster name 'Bad_Name'"),
        (("create", "--timeout", "0"), "Invalid value for '--timeout'"),
        (("add-nodes", "two"), "Invalid value for 'COUNT'"),
        (("create", "--max-hours", "-1"), "Invalid value for '--max-hours'"),
        (("create", "--max-hours", "eight"), "'eight' is not a valid float"),
        (("create", "--max-hours", "nan"), "--max-hours must be a number of hours, 0 or more"),
        (("create", "--max-hours", "169"), "--max-hours 169 is a lease of more than 7 days"),
        (("create", "--idle-minutes", "-5"), "Invalid value for '--idle-minutes'"),
        (("extend", "my-cluster", "-2"), "HOURS must be a number of hours greater than 0"),
        (("extend", "my-cluster", "soon"), "HOURS must be a number of hours greater than 0"),
    ],
)
def test_bad_flags_are_refused_with_exit_2(
    cli_runner: CliRunner, args: tuple[str, ...], message: str
) -> None:
    result = cli_runner(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_create_from_a_profile_file_with_errors_names_file_and_line(
    cli_runner: CliRunner, tmp_path: object
) -> None:
    from pathlib import Path

    profile = Path(str(tmp_path)) / "bad.yml"
    profile.write_text("name: ok\nnode_groups:\n  worker:\n    count: many\n")
    result = cli_runner("create", str(profile))
    assert result.exit_code == 2
    assert f"{profile}:4:" in result.stderr
    assert "count" in result.stderr


def test_destroy_without_a_terminal_asks_for_yes(cli_runner: CliRunner) -> None:
    result = cli_runner("destroy", "somecluster")
    assert result.exit_code == 2
    assert "add --yes" in result.stderr


def test_ssh_with_no_cluster_is_exit_2(cli_runner: CliRunner) -> None:
    result = cli_runner("ssh", "worker-1")
    assert result.exit_code == 2
    assert "no cluster" in result.stderr
