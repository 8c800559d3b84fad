#!/usr/bin/env python3
"""Benchmark of batch jobs: 1,000 `true` tasks through the CLI against plain `docker run`.

On a local cluster of a controller and 3 workers (type small: 1 CPU each),
with a busybox image built into the cluster registry:
  * submit: `clusterous submit --array 1-1000 --cpus 1 -- true` returning;
  * jobs: from typing submit until every task is done (`jobs wait` returns),
    as tasks/s;
  * direct: the same 1,000 runs started with `docker run --rm IMAGE true` on
    the same worker nodes, one sequential stream per CPU (the physical
    baseline), as tasks/s.
Targets: jobs >= 0.7 x direct, submit < 2 s. Each figure is the median of
--repeat rounds. Prints a table and writes JSON to bench/results/jobs.json.

    python bench/jobs.py [--repeat 1] [--tasks 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from table import print_measures
from timing import timed_cli

REPO = Path(__file__).resolve().parent.parent
IMAGE_DIR = REPO / "environments" / "busybox-web" / "image"
RESULTS = Path(__file__).parent / "results"
IMAGE = "registry:5000/bench-bb"
WORKERS = 3
TARGETS = {"submit": 2.0}
RATIO_TARGET = 0.7


def clusterous(home: Path, *args: str) -> float:
    return timed_cli({**os.environ, "CLUSTEROUS_HOME": str(home)}, *args)


def node_container(cluster: str, node: str) -> str:
    return f"clusterous-{cluster}-{node}"


def node_cpus(cluster: str, node: str) -> int:
    done = subprocess.run(
        ["docker", "exec", node_container(cluster, node), "nproc"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(done.stdout.strip())


def prepare(home: Path, cluster: str) -> None:
    profile = home / "profile.yml"
    profile.write_text(
        f"name: {cluster}\nnode_groups:\n  worker: {{type: small, count: {WORKERS}}}\n"
    )
    clusterous(home, "create", str(profile), "--yes")
    image = home / "image"
    shutil.copytree(IMAGE_DIR, image, ignore=shutil.ignore_patterns("busybox"))
    script = REPO / "scripts" / "busybox-for-examples.sh"
    subprocess.run([str(script), str(image)], check=True, capture_output=True)
    clusterous(home, "build-image", str(image), IMAGE.split("/")[1], "--cluster", cluster)


def through_jobs(home: Path, cluster: str, tasks: int) -> dict[str, float]:
    started = time.perf_counter()
    submit = clusterous(
        home, "submit", "--array", f"1-{tasks}", "--cpus", "1", "--image", IMAGE,
        "--cluster", cluster, "--", "true",
    )  # fmt: skip
    job = newest_job(home, cluster)
    clusterous(home, "jobs", "wait", job, "--cluster", cluster)
    total = time.perf_counter() - started
    clusterous(home, "jobs", "cancel", job, "--cluster", cluster)
    return {"submit": submit, "jobs_total": total, "jobs_rate": tasks / total}


def newest_job(home: Path, cluster: str) -> str:
    env = {**os.environ, "CLUSTEROUS_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "clusterous", "jobs", "--json", "--cluster", cluster],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return str(json.loads(done.stdout)[-1]["id"])


def stream(cluster: str, node: str, runs: int) -> subprocess.Popen[bytes]:
    loop = f"for i in $(seq {runs}); do docker run --rm {IMAGE} true >/dev/null; done"
    command = ["docker", "exec", node_container(cluster, node), "sh", "-c", loop]
    return subprocess.Popen(command)


def direct(cluster: str, tasks: int) -> dict[str, float]:
    """``tasks`` runs of `docker run --rm`, one sequential stream per worker CPU."""
    streams = [
        f"worker-{n}"
        for n in range(1, WORKERS + 1)
        for _ in range(node_cpus(cluster, f"worker-{n}"))
    ]
    shares = [tasks // len(streams) + (i < tasks % len(streams)) for i in range(len(streams))]
    started = time.perf_counter()
    running = [stream(cluster, node, runs) for node, runs in zip(streams, shares, strict=True)]
    if any([process.wait() != 0 for process in running]):  # every stream waited for
        raise SystemExit("a direct docker run stream failed")
    total = time.perf_counter() - started
    return {"direct_total": total, "direct_rate": tasks / total, "streams": float(len(streams))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--tasks", type=int, default=1000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clusterous-bench-jobs-") as tmp:
        home = Path(tmp)
        cluster = f"bench-jobs-{uuid.uuid4().hex[:6]}"
        try:
            prepare(home, cluster)
            rounds = []
            for _ in range(options.repeat):
                measured = through_jobs(home, cluster, options.tasks)
                measured.update(direct(cluster, options.tasks))
                measured["ratio"] = measured["jobs_rate"] / measured["direct_rate"]
                rounds.append(measured)
        finally:
            clusterous(home, "destroy", cluster, "--yes", "--delete-volume")
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print_table(medians, options)
    RESULTS.mkdir(exist_ok=True)
    report = {
        "median": medians,
        "rounds": rounds,
        "targets_seconds": TARGETS,
        "ratio_target": RATIO_TARGET,
        "tasks": options.tasks,
        "cpus": os.cpu_count(),
        "note": "measured on a loaded machine unless said otherwise",
    }
    (RESULTS / "jobs.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'jobs.json'}")


def print_table(medians: dict[str, float], options: argparse.Namespace) -> None:
    print(
        f"{options.tasks} `true` tasks, {WORKERS} workers, {int(medians['streams'])} direct "
        f"stream(s), median of {options.repeat} round(s), {os.cpu_count()} host CPUs"
    )
    labels = {
        "submit": "submit returns",
        "jobs_total": "submit typed -> every task done",
        "direct_total": "same runs, direct docker run",
    }
    print_measures(labels, medians, TARGETS)
    ok = "yes" if medians["ratio"] >= RATIO_TARGET else "NO"
    print(f"\n{'throughput':<34}{'tasks/s':>9}")
    print(f"{'clusterous jobs':<34}{medians['jobs_rate']:>9.2f}")
    print(f"{'direct docker run':<34}{medians['direct_rate']:>9.2f}")
    print(f"{'ratio (target >= 0.7)':<34}{medians['ratio']:>9.2f}  {ok}")


if __name__ == "__main__":
    main()
