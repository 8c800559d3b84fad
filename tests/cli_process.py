"""The real ``clusterous`` CLI as a separate process on one CLUSTEROUS_HOME, for tests.

Shared by the e2e tests on the local provider and by those on the EC2 twin
(which add the twin's AWS settings to the environment).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class CliOnHome:
    """The clusterous CLI, as a separate process, on one CLUSTEROUS_HOME."""

    home: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "CLUSTEROUS_HOME": str(self.home), "NO_COLOR": "1", "COLUMNS": "200"}

    def __call__(self, *args: str, timeout: float = 600) -> Run:
        done = subprocess.run(
            [sys.executable, "-m", "clusterous", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def ok(self, *args: str, timeout: float = 600) -> Run:
        result = self(*args, timeout=timeout)
        assert result.returncode == 0, f"clusterous {' '.join(args)} failed:\n{result.output}"
        return result

    def status(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self.ok("status", name, "--json").stdout))

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "clusterous", *args],
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
        )
