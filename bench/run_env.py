#!/usr/bin/env python3
"""Benchmark of running an environment: from `clusterous run` to the tunnel answering.

On a ready local cluster (controller, 1 master, 2 workers), with the offline
busybox-web example, measured through the real CLI as a user types it:
  * run -> HTTP 200 through the tunnel, including the image build (the
    Dockerfile is changed each round so the build cannot be skipped);
  * the same with the image already built (build skipped);
  * add-nodes 1 -> the count: auto worker running on the new node (its page
    served through the tunnel), measured from the moment add-nodes returns
    and from the moment it was typed.
Each figure is the median of --repeat rounds. Prints a table and writes JSON to
bench/results/run_env.json.

    python bench/run_env.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from table import print_measures
from timing import timed_cli

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "environments" / "busybox-web"
RESULTS = Path(__file__).parent / "results"
TARGETS = {"run_with_build": 20.0, "run_built": 10.0, "auto_on_new_node": 10.0}


def clusterous(home: Path, *args: str, check: bool = True) -> float:
    return timed_cli({**os.environ, "CLUSTEROUS_HOME": str(home)}, *args, check=check)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def page(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as reply:
            return reply.read().decode() if reply.status == 200 else None
    except OSError:
        return None


def wait_for(port: int, text: str, timeout: float = 120) -> float:
    """Seconds until the page through the tunnel contains ``text``."""
    started = time.perf_counter()
    while (body := page(port)) is None or text not in body:
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"the page never showed {text!r}")
        time.sleep(0.05)
    return time.perf_counter() - started


def prepare(work: Path, port: int) -> Path:
    target = work / "busybox-web"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("busybox"))
    script = REPO / "scripts" / "busybox-for-examples.sh"
    subprocess.run([str(script), str(target / "image")], check=True, capture_output=True)
    env_file = target / "env.yml"
    env_file.write_text(env_file.read_text().replace("8080:master", f"{port}:master"))
    return env_file


def timed_run(home: Path, cluster: str, env_file: Path, port: int) -> float:
    started = time.perf_counter()
    clusterous(home, "run", str(env_file), "--yes", "--cluster", cluster)
    wait_for(port, "<html>")
    return time.perf_counter() - started


def node_names(home: Path, cluster: str) -> set[str]:
    """The cluster's nodes, from its ledger (node names are never reused)."""
    state = json.loads((home / "clusters" / cluster / "state.json").read_text())
    return {node["name"] for node in state["nodes"]}


def one_round(home: Path, cluster: str, env_file: Path, port: int, index: int) -> dict[str, float]:
    dockerfile = env_file.parent / "image" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + f"# benchmark round {index} {uuid.uuid4()}\n")
    times = {"run_with_build": timed_run(home, cluster, env_file, port)}
    clusterous(home, "quit", "--yes", "--cluster", cluster)
    times["run_built"] = timed_run(home, cluster, env_file, port)
    before = node_names(home, cluster)
    typed = time.perf_counter()
    clusterous(home, "add-nodes", "1", "--cluster", cluster)
    joined = time.perf_counter()
    (added,) = node_names(home, cluster) - before
    times["auto_on_new_node"] = wait_for(port, f"worker on {added}")
    times["auto_from_add_nodes_typed"] = joined - typed + times["auto_on_new_node"]
    clusterous(home, "rm-nodes", "1", "--cluster", cluster)
    clusterous(home, "quit", "--yes", "--cluster", cluster)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clusterous-bench-env-") as tmp:
        home = Path(tmp)
        port = free_port()
        env_file = prepare(home, port)
        cluster = f"bench-env-{uuid.uuid4().hex[:6]}"
        clusterous(home, "create", "--name", cluster, "--workers", "2")
        try:
            rounds = [one_round(home, cluster, env_file, port, i) for i in range(options.repeat)]
        finally:
            clusterous(home, "destroy", cluster, "--yes")
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    print_table(medians, options.repeat)
    RESULTS.mkdir(exist_ok=True)
    report = {
        "median_seconds": medians,
        "rounds": rounds,
        "targets_seconds": TARGETS,
        "cpus": os.cpu_count(),
    }
    (RESULTS / "run_env.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'run_env.json'}")


def print_table(medians: dict[str, float], repeat: int) -> None:
    print(f"busybox-web on a local cluster, median of {repeat} round(s), {os.cpu_count()} CPUs")
    labels = {
        "run_with_build": "run -> tunnel answers (image built)",
        "run_built": "run -> tunnel answers (build skipped)",
        "auto_on_new_node": "auto task on a new node (after add-nodes)",
        "auto_from_add_nodes_typed": "auto task on a new node (add-nodes typed)",
    }
    print_measures(labels, medians, TARGETS)


if __name__ == "__main__":
    main()
