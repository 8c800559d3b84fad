#!/usr/bin/env python3
"""Benchmark of the CLI's start: `clusterous --help` against `python -c "import click"`.

Help is what people type first and what shells' completion runs; it should
cost little more than click itself. Both commands are whole processes, run in
turn (A B A B ...) so that a drift in the machine's speed touches both, and
each figure is the median of --repeat runs (7 by default). The target is a
ratio of at most 2.0. Prints a table and the ratio, and writes JSON to
bench/results/cli_start.json; exits 1 when the ratio is over the target.

    python bench/cli_start.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from table import print_measures

TARGET_RATIO = 2.0
RESULTS = Path(__file__).parent / "results"


def clusterous_command() -> list[str]:
    """The installed `clusterous` script next to this Python, as a user runs it."""
    script = Path(sys.executable).parent / "clusterous"
    return [str(script)] if script.exists() else [sys.executable, "-m", "clusterous"]


def wall_time(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout!r}{done.stderr!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs of each command")
    repeat = parser.parse_args().repeat
    commands = {
        "help": [*clusterous_command(), "--help"],
        "click": [sys.executable, "-c", "import click"],
    }
    for command in commands.values():  # warm the file cache; not counted
        wall_time(command)
    runs: dict[str, list[float]] = {key: [] for key in commands}
    for _ in range(repeat):
        for key, command in commands.items():
            runs[key].append(wall_time(command))
    medians = {key: statistics.median(times) for key, times in runs.items()}
    ratio = medians["help"] / medians["click"]
    print_measures({"help": "clusterous --help", "click": 'python -c "import click"'}, medians, {})
    verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(f"\nratio {ratio:.2f} (target <= {TARGET_RATIO:.1f}): {verdict}")
    RESULTS.mkdir(exist_ok=True)
    report = {"repeat": repeat, "runs": runs, "medians": medians, "ratio": ratio}
    (RESULTS / "cli_start.json").write_text(json.dumps(report, indent=2) + "\n")
    sys.exit(0 if ratio <= TARGET_RATIO else 1)


if __name__ == "__main__":
    main()
