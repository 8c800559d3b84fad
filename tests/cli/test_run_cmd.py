"""``clusterous run`` without a cluster, and with a bad file: clear words, exit 2, nothing done."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

CliRunner = Callable[..., Any]  # the cli_runner fixture of tests/conftest.py

COMPAT = Path(__file__).resolve().parents[2].parent / "shared" / "compat" / "clusterous-1.0"
EXAMPLE = Path(__file__).resolve().parents[2] / "environments" / "busybox-web" / "env.yml"


def test_run_without_any_cluster_shows_the_create_command(cli_runner: CliRunner) -> None:
    result = cli_runner("run", str(EXAMPLE))
    assert result.exit_code == 2
    assert "there is no cluster to run on" in result.stderr
    assert "clusterous create --workers 2" in result.stderr


def test_a_file_with_its_own_cluster_section_shows_a_profile_naming_it(
    cli_runner: CliRunner,
) -> None:
    spark = COMPAT / "spark-env.yml"
    result = cli_runner("run", str(spark))
    assert result.exit_code == 2
    assert "describes its own cluster (groups master, spark)" in result.stderr
    assert f"environment_file: {spark}" in result.stderr
    assert "clusterous create cluster.yml" in result.stderr


def test_a_named_cluster_that_does_not_exist_is_named(cli_runner: CliRunner) -> None:
    result = cli_runner("run", str(EXAMPLE), "--cluster", "nosuch")
    assert result.exit_code == 2
    assert "no cluster named 'nosuch'" in result.stderr


def test_a_bad_environment_file_is_refused_with_its_line(
    cli_runner: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "env.yml"
    bad.write_text("name: x\nenvironment:\n  components:\n    a: {machine: master, cpu: fast}\n")
    result = cli_runner("run", str(bad))
    assert result.exit_code == 2
    assert "env.yml:4" in result.stderr and "cpu" in result.stderr


def test_a_missing_environment_file_is_refused(cli_runner: CliRunner, tmp_path: Path) -> None:
    result = cli_runner("run", str(tmp_path / "nope.yml"))
    assert result.exit_code == 2
    assert "no environment file" in result.stderr
