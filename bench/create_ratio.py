#!/usr/bin/env python3
"""Benchmark of how create scales on the local provider: 2 workers against 6, alternately.

The target (issue 8): a create of 1 controller + 6 workers takes at most 1.5x
the time of 1 controller + 2 workers. On a shared machine the load changes
from minute to minute, so the two sizes are measured alternately, under the
same conditions (2, 6, 2, 6 ...), each the `clusterous create` command as a
user types it, then destroyed. Prints each run, the medians and the ratio,
and writes JSON to bench/results/create_ratio.json.

With --timeline, before each destroy it also reads where every node's time
went: when its container started, when cloud-init's stages and dockerd ran
(systemd's own timestamps), the bootstrap's step timings (the "timing:" lines
of /var/log/clusterous-bootstrap.log) and the CPU seconds the node's
container used. Read through the engine, after the measured create.

    python bench/create_ratio.py [--repeat 3] [--timeline]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
TARGET_RATIO = 1.5
UNITS = ("clusterous-await-launch", "cloud-init", "cloud-final", "containerd", "docker")


def cli(home: Path, *args: str) -> tuple[float, str]:
    """One CLI command: its wall time and output; fails loudly when the command fails."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "clusterous", *args],
        env={**os.environ, "CLUSTEROUS_HOME": str(home), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"clusterous {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout


def profile(home: Path, name: str, workers: int) -> Path:
    path = home / f"{name}.yml"
    path.write_text(
        f"name: {name}\nprovider: local\nnode_groups:\n  worker:\n    count: {workers}\n"
    )
    return path


def docker(*args: str) -> str:
    """The docker CLI (bench/logging.py hides the standard logging the SDK needs)."""
    return subprocess.run(["docker", *args], capture_output=True, text=True).stdout


NODE_SCRIPT = (
    "read -r up _ </proc/uptime; read -r -a st </proc/1/stat; echo boot ${st[21]}; "
    "echo cpu $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null "
    "|| awk '$1 == \"usage_usec\" { print $2 * 1000 }' /sys/fs/cgroup/cpu.stat); "
    f"for u in {' '.join(UNITS)}; do echo unit $u $(systemctl show $u.service "
    "-p InactiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic --value); done; "
    "grep -h 'timing:' /var/log/clusterous-bootstrap.log"
)


def node_timeline(container: str) -> dict[str, Any]:
    """Where one node's time went: systemd's units in seconds from the node's boot."""
    lines = docker("exec", container, "bash", "-c", NODE_SCRIPT).splitlines()
    boot = int(lines[0].split()[1]) / 100  # PID 1's start, in seconds of the host's uptime
    units = {}
    for line in lines[2:]:
        if line.startswith("unit "):
            _, unit, *stamps = line.split()
            units[unit] = [round(int(v) / 1e6 - boot, 2) if v != "0" else None for v in stamps]
    steps = [line.split("timing: ", 1)[1] for line in lines if "timing: " in line]
    cpu = int(lines[1].split()[1]) / 1e9
    return {"units": units, "bootstrap": steps, "cpu_seconds": round(cpu, 2)}


def timelines(cluster: str) -> dict[str, Any]:
    listing = docker(
        "ps", "--filter", f"label=clusterous.cluster={cluster}", "--format", "{{.Names}}"
    )
    return {name.rsplit(f"{cluster}-", 1)[-1]: node_timeline(name) for name in listing.split()}


def one_create(home: Path, workers: int, with_timeline: bool) -> dict[str, Any]:
    name = f"ratio-{uuid.uuid4().hex[:6]}-{workers}"
    seconds, output = cli(home, "create", str(profile(home, name, workers)))
    run: dict[str, Any] = {"workers": workers, "seconds": round(seconds, 2)}
    run["steps"] = [line.strip() for line in output.splitlines() if "✓" in line or "ready" in line]
    try:
        if with_timeline:
            run["nodes"] = timelines(name)
    finally:
        cli(home, "destroy", name, "--yes")
    print(f"create, {workers} workers: {seconds:.2f} s", flush=True)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeline", action="store_true", help="read each node's timeline")
    options = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="clusterous-bench-ratio-") as tmp:
        home = Path(tmp)
        warm = f"ratio-warm-{uuid.uuid4().hex[:6]}"  # builds the node image if needed
        cli(home, "create", str(profile(home, warm, 1)))
        cli(home, "destroy", warm, "--yes")
        for _ in range(options.repeat):
            for workers in (2, 6):
                runs.append(one_create(home, workers, options.timeline))
    medians = {
        w: statistics.median(r["seconds"] for r in runs if r["workers"] == w) for w in (2, 6)
    }
    ratio = medians[6] / medians[2]
    load = os.getloadavg()[0]
    print(f"\nlocal provider, {options.repeat} alternate run(s) each, {os.cpu_count()} CPUs")
    print(f"create, 1 controller + 2 workers: median {medians[2]:.2f} s")
    print(f"create, 1 controller + 6 workers: median {medians[6]:.2f} s")
    verdict = "yes" if ratio <= TARGET_RATIO else "NO"
    print(f"6 workers / 2 workers: {ratio:.2f} (target {TARGET_RATIO}) {verdict}")
    print(f"load average at the end: {load:.1f}")
    RESULTS.mkdir(exist_ok=True)
    report = {
        "median_seconds": {f"create_{w}w": s for w, s in medians.items()},
        "create_6w_over_2w": ratio,
        "target_ratio": TARGET_RATIO,
        "load_average_at_end": load,
        "cpus": os.cpu_count(),
        "runs": runs,
    }
    (RESULTS / "create_ratio.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {RESULTS / 'create_ratio.json'}")


if __name__ == "__main__":
    main()
