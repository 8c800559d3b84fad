"""Clusterous 1.0's flag spellings work, are hidden from --help, and name today's flag.

Each 1.0 flag is run and shown to do what today's flag does: without it the
command stops where today's flag would have let it go on. Nothing here needs
a Docker engine (DOCKER_HOST points at a socket that does not exist) and AWS
is moto.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clusterous.cli.compat import OLD_SPELLINGS
from clusterous.home import Home
from clusterous.manager.ledger import Ledger
from clusterous.records import ClusterState, NodeRecord
from tests.aws.provider_fixtures import Account, account, fault_server, faulty_aws

__all__ = ["account", "fault_server", "faulty_aws"]


@pytest.fixture(autouse=True)
def no_docker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine-here.sock")


def note(command: str, old: str, today: str) -> str:
    return f"note: '{command} {old}' is Clusterous 1.0's spelling; today it is '{command} {today}'"


def test_every_1_0_spelling_is_hidden_from_help(cli_runner: Any) -> None:
    for spelling in OLD_SPELLINGS:
        shown = cli_runner(spelling.command, "--help").stdout
        assert spelling.today in shown
        assert spelling.old not in shown


def test_destroy_confirm_confirms_like_yes(cli_runner: Any) -> None:
    asked = cli_runner("destroy", "ghost")
    assert asked.exit_code == 2 and "add --yes" in asked.stderr
    result = cli_runner("destroy", "ghost", "--confirm")
    assert note("destroy", "--confirm", "--yes") in result.stderr.splitlines()
    assert "needs confirmation" not in result.stderr
    assert "cannot reach the Docker engine" in result.stderr  # got as far as removing
    assert result.exit_code == 1


def test_destroy_volume_spellings_are_keep_volume_and_delete_volume(cli_runner: Any) -> None:
    both = cli_runner(
        "destroy", "ghost", "--yes", "--leave-shared-volume", "--force-delete-shared-volume"
    )
    assert both.exit_code == 2
    assert "--keep-volume and --delete-volume contradict each other" in both.stderr
    for old, today in [
        ("--leave-shared-volume", "--keep-volume"),
        ("--force-delete-shared-volume", "--delete-volume"),
    ]:
        result = cli_runner("destroy", "ghost", "--yes", old)
        assert result.stderr.splitlines()[0] == note("destroy", old, today)
        assert "cannot reach the Docker engine" in result.stderr


def test_quit_confirm_confirms_like_yes(cli_runner: Any, clusterous_home: Path) -> None:
    controller = NodeRecord("controller", "controller", "medium", "i-1", "", "127.0.0.1", 9)
    Ledger(Home(clusterous_home), "old").create(
        ClusterState("old", "local", "local", nodes=[controller])
    )
    asked = cli_runner("quit", "--cluster", "old")
    assert asked.exit_code == 2 and "add --yes" in asked.stderr
    result = cli_runner("quit", "--cluster", "old", "--confirm")
    assert result.stderr.splitlines()[0] == note("quit", "--confirm", "--yes")
    assert "needs confirmation" not in result.stderr
    assert result.exit_code == 1  # it went on to reach the controller, on a closed port


def test_create_no_run_skips_the_profiles_environment(
    account: Account, cli_runner: Any, tmp_path: Path
) -> None:
    (tmp_path / "env.yml").write_text(
        "name: app\nenvironment:\n  components:\n    a: {machine: worker, image: x}\n"
    )
    profile = tmp_path / "cluster.yml"
    profile.write_text("name: oldie\nenvironment_file: env.yml\nnode_groups:\n  worker: {}\n")
    runs = cli_runner("create", str(profile), "--dry-run")
    assert "run once the cluster is ready" in runs.stdout, runs.output
    result = cli_runner("create", str(profile), "--dry-run", "--no-run")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == note("create", "--no-run", "--skip-environment")
    assert "not run (--skip-environment)" in result.stdout
