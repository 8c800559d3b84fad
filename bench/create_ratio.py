#!/usr/bin/env python3
"""Benchmark of how create scales on the local provider: 2 workers against 6, alternately.

The target (issue 8): a create of 1 controller + 6 workers takes at most 1.5x
the time of 1 controller + 2 workers. On a shared machine the load changes
from minute to minute, so the two sizes are measured alternately, under the
same conditions (2, 6, 2, 6 ...), each the `clusterous create` command as a
user types it, then destroyed; each create starts once the host is quiet again
(the kernel tears a destroyed cluster's namespaces down after `destroy`).
Prints each run, the medians and the ratio, and writes JSON to
bench/results/create_ratio.json.

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
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
TARGET_RATIO = 1.5
UNITS = ("cloud-init", "cloud-final", "containerd", "docker")
LAUNCHED_AT = "/run/clusterous/launched-at"  # node_image/cloud-init-preload writes it


CLI_CPU: list[float] = []  # CPU seconds of each CLI command run, in order


def cli(home: Path, *args: str) -> tuple[float, str]:
    """One CLI command: its wall time and output; fails loudly when the command fails."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "clusterous", *args],
            env={**os.environ, "CLUSTEROUS_HOME": str(home), "NO_COLOR": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        _, status, used = os.wait4(process.pid, 0)  # this command's own CPU time
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    CLI_CPU.append(used.ru_utime + used.ru_stime)
    if process.returncode != 0:
        raise SystemExit(f"clusterous {' '.join(args)} failed:\n{output}")
    return elapsed, output


def profile(home: Path, name: str, workers: int) -> Path:
    path = home / f"{name}.yml"
    path.write_text(
        f"name: {name}\nprovider: local\nnode_groups:\n  worker:\n    count: {workers}\n"
    )
    return path


def docker(*args: str) -> str:
    """The docker CLI: a bench script stays free of the SDK's imports and their time."""
    return subprocess.run(["docker", *args], capture_output=True, text=True).stdout


STEP_LINE = re.compile(r"^(.*?) ([0-9.]+) s( after the node's boot)?$")
NODE_SCRIPT = (
    "read -r up _ </proc/uptime; read -r -a st </proc/1/stat; echo boot ${st[21]}; "
    f"echo launched $(cat {LAUNCHED_AT} 2>/dev/null || echo 0); "
    "echo cpu $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null "
    "|| awk '$1 == \"usage_usec\" { print $2 * 1000 }' /sys/fs/cgroup/cpu.stat); "
    f"for u in {' '.join(UNITS)}; do echo unit $u $(systemctl show $u.service "
    "-p InactiveExitTimestampMonotonic -p ActiveEnterTimestampMonotonic --value); done; "
    "grep -h 'timing:' /var/log/clusterous-bootstrap.log"
)


def node_timeline(container: str, cpu: list[tuple[float, float]]) -> dict[str, Any]:
    """Where one node's time went, in seconds from its boot, and its CPU seconds in each phase."""
    lines = docker("exec", container, "bash", "-c", NODE_SCRIPT).splitlines()
    boot = int(lines[0].split()[1]) / 100  # PID 1's start, in seconds of the host's uptime
    stamps: dict[str, list[float | None]] = {}
    launched = float(lines[1].split()[1])
    stamps["launch"] = [launched or None, launched or None]
    for line in lines[3:]:
        if line.startswith("unit "):
            _, unit, *values = line.split()
            stamps[unit] = [int(v) / 1e6 if v != "0" else None for v in values]
    steps = [line.split("timing: ", 1)[1] for line in lines if "timing: " in line]
    units = {u: [round(t - boot, 2) if t else None for t in ts] for u, ts in stamps.items()}
    timeline = {"units": units, "bootstrap": steps, "cpu_seconds": int(lines[2].split()[1]) / 1e9}
    if cpu:
        timeline["cpu_phases"] = cpu_phases(boot, stamps, steps, cpu)
    return timeline


def cpu_phases(
    boot: float,
    stamps: dict[str, list[float | None]],
    steps: list[str],
    cpu: list[tuple[float, float]],
) -> dict[str, float]:
    """CPU seconds the node used from its boot to its seed, in cloud-init, in the bootstrap ..."""
    said = {m[1]: float(m[2]) for m in map(STEP_LINE.match, steps) if m}
    began = boot + said.get("started", 0.0)
    marks = [
        ("booting, loading cloud-init, waiting for the seed", stamps["launch"][0]),
        ("cloud-init's network stage", stamps["cloud-init"][1]),
        ("up to the bootstrap", began),
        ("bootstrap", began + said.get("total", 0.0)),
        ("after the bootstrap", cpu[-1][0]),
    ]
    phases, last = {}, cpu_at(cpu, boot)
    for name, when in marks:
        now = cpu_at(cpu, when or boot)
        phases[name] = round(now - last, 2)
        last = now
    # The bootstrap's steps (samples every 0.2 s: a rough split of its CPU).
    at = began
    for m in map(STEP_LINE.match, steps):
        if m and m[1] not in ("started", "total"):
            phases[f"  bootstrap: {m[1]}"] = round(
                cpu_at(cpu, at + float(m[2])) - cpu_at(cpu, at), 2
            )
            at += float(m[2])
    return phases


def cpu_at(samples: list[tuple[float, float]], when: float) -> float:
    """The CPU seconds used by ``when`` (linear between samples)."""
    before = [s for s in samples if s[0] <= when] or samples[:1]
    after = [s for s in samples if s[0] >= when] or samples[-1:]
    (t0, c0), (t1, c1) = before[-1], after[0]
    return c0 if t1 == t0 else c0 + (c1 - c0) * (when - t0) / (t1 - t0)


class CpuSampler(threading.Thread):
    """Each node container's CPU seconds over time, from the host's cgroups (v1, cgroupfs)."""

    def __init__(self, cluster: str) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self.done = threading.Event()

    def run(self) -> None:
        names: dict[str, str] = {}
        listed = 0.0
        while not self.done.wait(0.2):
            if time.monotonic() - listed > 1.0:
                out = docker(
                    "ps",
                    "--no-trunc",
                    "--filter",
                    f"label=clusterous.cluster={self.cluster}",
                    "--format",
                    "{{.ID}} {{.Names}}",
                )
                names = dict(line.split() for line in out.splitlines())
                listed = time.monotonic()
            for cid, name in names.items():
                usage = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
                try:
                    value = int(usage.read_text()) / 1e9
                except (OSError, ValueError):
                    continue
                self.samples.setdefault(name, []).append((time.monotonic(), value))


def timelines(cluster: str, sampler: CpuSampler) -> dict[str, Any]:
    listing = docker(
        "ps", "--filter", f"label=clusterous.cluster={cluster}", "--format", "{{.Names}}"
    )
    return {
        name.rsplit(f"{cluster}-", 1)[-1]: node_timeline(name, sampler.samples.get(name, []))
        for name in listing.split()
    }


def one_create(home: Path, workers: int, with_timeline: bool) -> dict[str, Any]:
    name = f"ratio-{uuid.uuid4().hex[:6]}-{workers}"
    sampler = CpuSampler(name)
    if with_timeline:
        sampler.start()
    seconds, output = cli(home, "create", str(profile(home, name, workers)))
    sampler.done.set()
    run: dict[str, Any] = {"workers": workers, "seconds": round(seconds, 2)}
    run["cli_cpu_seconds"] = round(CLI_CPU[-1], 2)
    run["steps"] = [line.strip() for line in output.splitlines() if " s)" in line]
    try:
        if with_timeline:
            sampler.join()
            run["nodes"] = timelines(name, sampler)
    finally:
        cli(home, "destroy", name, "--yes")
    print(f"create, {workers} workers: {seconds:.2f} s (CLI CPU {CLI_CPU[-2]:.1f} s)", flush=True)
    if with_timeline:
        print_cpu(run["nodes"])
    return run


def print_cpu(nodes: dict[str, Any]) -> None:
    """The nodes' CPU seconds in all, and a worker's on average in each phase."""
    total = sum(n["cpu_seconds"] for n in nodes.values())
    print(f"  CPU seconds of all nodes: {total:.1f}")
    workers = [
        n["cpu_phases"]
        for name, n in nodes.items()
        if "cpu_phases" in n and name.startswith("worker")
    ]
    for phase in workers[0] if workers else ():
        print(f"  a worker, {phase}: {statistics.mean(w[phase] for w in workers):.2f}")


def cpu_idle(seconds: float) -> float:
    """The fraction of the host's CPU time that was idle over the next ``seconds``."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, all

    idle0, all0 = sample()
    time.sleep(seconds)
    idle1, all1 = sample()
    return (idle1 - idle0) / max(1, all1 - all0)


def settle(most: float = 90.0) -> float:
    """Wait until the host is quiet again: a destroyed cluster's network namespaces and
    mounts are torn down by the kernel after `destroy` returns, and that work, charged
    to no container, would land in the next create. Two quiet seconds (>= 90 % idle)
    in a row, or ``most`` seconds; returns the wait."""
    started, quiet = time.monotonic(), 0
    while quiet < 2 and time.monotonic() - started < most:
        quiet = quiet + 1 if cpu_idle(1.0) >= 0.9 else 0
    return time.monotonic() - started


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
                waited = settle()
                runs.append(one_create(home, workers, options.timeline))
                runs[-1]["settled_seconds"] = round(waited, 1)
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
