"""``clusterous --help`` and ``validate`` must not import the heavy libraries.

``--help``, of the group and of every command, imports neither pydantic nor
rich either: the listing comes from the command table, and the command modules
import those where they draw or validate. Each check runs in a fresh
interpreter, since this test process has long imported boto3 and friends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

import clusterous
from clusterous.cli.main import COMMANDS, cli

HEAVY = ("boto3", "botocore", "paramiko", "docker", "sshtunnel")
# What `--help` does without too: pydantic alone costs more than click.
HELP_HEAVY = (*HEAVY, "pydantic", "rich")
REPO = Path(clusterous.__file__).resolve().parent.parent
COMPAT_DIR = REPO.parent / "shared" / "compat" / "clusterous-1.0"

PROBE = """
import json, sys
from clusterous.cli.main import cli
try:
    cli.main(args=sys.argv[1:], prog_name="clusterous")
except SystemExit as done:
    code = done.code
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("@@" + json.dumps({{"code": code, "heavy": heavy}}))
"""


def run_probe(*args: str, heavy: tuple[str, ...] = HEAVY) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=heavy), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("@@")]
    assert lines, completed.stdout + completed.stderr
    result: dict[str, object] = json.loads(lines[-1][2:])
    return result


def test_help_imports_no_heavy_library_nor_pydantic_nor_rich() -> None:
    result = run_probe("--help", heavy=HELP_HEAVY)
    assert result == {"code": 0, "heavy": []}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_imports_no_heavy_library_nor_pydantic_nor_rich(command: str) -> None:
    assert run_probe(command, "--help", heavy=HELP_HEAVY) == {"code": 0, "heavy": []}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_the_table_lists_each_commands_own_short_help(command: str) -> None:
    loaded = cli.get_command(click.Context(cli), command)
    assert loaded is not None
    assert COMMANDS[command][1] == loaded.get_short_help_str(10_000)


def test_help_lists_every_command_with_its_short_help_cut_to_the_width() -> None:
    shown = cli.get_help(click.Context(cli, info_name="clusterous", max_content_width=100))
    listing = shown.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listing] == sorted(COMMANDS)
    # The longest summary is cut with '...' at the width, as click cuts it.
    assert any(line.endswith("...") for line in listing)


def compat_files() -> list[Path]:
    return sorted(COMPAT_DIR.rglob("*.yml")) + sorted(COMPAT_DIR.rglob("*.yaml"))


@pytest.mark.skipif("validate" not in COMMANDS, reason="the validate command is not registered")
def test_validate_imports_no_heavy_library() -> None:
    files = compat_files()
    assert files, f"no Clusterous 1.0 files under {COMPAT_DIR}"
    result = run_probe("validate", str(files[0]))
    assert result["heavy"] == []
    assert result["code"] in (0, 2)  # a verdict on the file, not a crash
