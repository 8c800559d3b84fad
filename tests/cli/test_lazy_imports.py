"""``clusterous --help`` and ``validate`` must not import the heavy libraries.

Each check runs in a fresh interpreter, since this test process has long
imported boto3 and friends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import clusterous
from clusterous.cli.main import COMMANDS

HEAVY = ("boto3", "botocore", "paramiko", "docker", "sshtunnel")
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


def run_probe(*args: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
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


def test_help_imports_no_heavy_library() -> None:
    result = run_probe("--help")
    assert result == {"code": 0, "heavy": []}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_command_help_imports_no_heavy_library(command: str) -> None:
    assert run_probe(command, "--help") == {"code": 0, "heavy": []}


def compat_files() -> list[Path]:
    return sorted(COMPAT_DIR.rglob("*.yml")) + sorted(COMPAT_DIR.rglob("*.yaml"))


@pytest.mark.skipif("validate" not in COMMANDS, reason="the validate command is not registered")
def test_validate_imports_no_heavy_library() -> None:
    files = compat_files()
    assert files, f"no Clusterous 1.0 files under {COMPAT_DIR}"
    result = run_probe("validate", str(files[0]))
    assert result["heavy"] == []
    assert result["code"] in (0, 2)  # a verdict on the file, not a crash
