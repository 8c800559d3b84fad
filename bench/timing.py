"""How every benchmark times the CLI: one `clusterous` process, as a user types it."""

from __future__ import annotations

import subprocess
import sys
import time


def timed_cli(env: dict[str, str], *args: str, check: bool = True) -> float:
    """Run one CLI command; return its wall time, fail loudly if it fails (when ``check``)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "clusterous", *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    if check and done.returncode != 0:
        raise SystemExit(f"clusterous {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return elapsed
