"""``clusterous submit`` refuses bad options before it looks for a cluster: exit 2, the fix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

CliRunner = Callable[..., Any]  # the cli_runner fixture of tests/conftest.py


@pytest.mark.parametrize(
    ("array", "words"),
    [("10-1", "ends before it starts"), ("1..5", 'a range such as "1-1000"'), ("x", "got")],
)
def test_a_bad_array_range_is_named_with_the_fix(
    cli_runner: CliRunner, array: str, words: str
) -> None:
    result = cli_runner("submit", "--array", array, "--", "true")
    assert result.exit_code == 2, result.stderr
    assert f"--array '{array}' is not a job array" in result.stderr
    assert words in result.stderr
    assert "e.g. --array 1-1000" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_workdir_off_the_shared_volume_is_refused(cli_runner: CliRunner) -> None:
    result = cli_runner("submit", "--workdir", "/tmp/x", "--", "true")
    assert result.exit_code == 2
    assert "--workdir '/tmp/x' is not on the shared volume" in result.stderr
    escaped = cli_runner("submit", "--workdir", "/data/../etc", "--", "true")
    assert escaped.exit_code == 2


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--env", "NOEQUALS", "--", "true"], "--env 'NOEQUALS' is not NAME=VALUE"),
        (["--memory", "lots", "--", "true"], "--memory 'lots'"),
        (["--cpus", "0", "--", "true"], "--cpus must be more than 0"),
        (["--retries", "-1", "--", "true"], "--retries must be 0 or more"),
        ([], "say what each task runs"),
    ],
)
def test_other_bad_options_are_named(cli_runner: CliRunner, args: list[str], words: str) -> None:
    result = cli_runner("submit", *args)
    assert result.exit_code == 2, result.output
    assert words in result.stderr


def test_a_good_request_without_a_cluster_says_how_to_make_one(cli_runner: CliRunner) -> None:
    result = cli_runner("submit", "--array", "1-3", "--", "true")
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
