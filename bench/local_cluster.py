#!/usr/bin/env python3
"""Benchmark of the local provider: create, add-node and destroy, through the real CLI.

Measures, on the real Docker engine and with the node image already built:
  * create of 1 controller + 3 workers,
  * add-nodes 1 on that cluster,
  * destroy of it,
  * create with 2 and with 6 workers (nodes boot in parallel, so 6 should cost
    at most 1.5x the time of 2; on a 2-core machine the nodes' boots share
    the CPUs, so the ratio follows the CPU each worker's boot costs; on a
    shared, loaded machine bench/create_ratio.py measures the two sizes
    alternately, under the same load, and shows where each node's time and
    CPU went),
  * create of 1 controller + 3 workers with central logging off
    (`central_logging_level: 0`), right after the one with it on, so the
    cost of the logging pipeline is their ratio (target: at most +10 %).
Each measurement is the median of --repeat runs of the `clusterous` command
as a user types it (process start included). Prints a table and writes JSON
to bench/results/local_cluster.json.

    python bench/local_cluster.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import uuid
from pathlib import Path

from table import print_measures
from timing import timed_cli

TARGETS = {"create_1c_3w": 12.0, "add_node": 8.0, "destroy": 5.0}
RESULTS = Path(__file__).parent / "results"


def clusterous(home: Path, *args: str) -> float:
    return timed_cli({**os.environ, "CLUSTEROUS_HOME": str(home)}, *args)


def workers_profile(directory: Path, name: str, workers: int, logging: bool = True) -> Path:
    path = directory / f"{name}.yml"
    text = f"name: {name}\nprovider: local\nnode_groups:\n  worker:\n    count: {workers}\n"
    if not logging:
        text += "central_logging_level: 0\n"
    path.write_text(text)
    return path


def one_round(home: Path) -> dict[str, float]:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    profile = workers_profile(home, name, 3)
    times = {"create_1c_3w": clusterous(home, "create", str(profile))}
    times["add_node"] = clusterous(home, "add-nodes", "1", "--cluster", name)
    times["destroy"] = clusterous(home, "destroy", name, "--yes")
    quiet = f"{name}-nolog"
    times["create_1c_3w_nolog"] = clusterous(
        home, "create", str(workers_profile(home, quiet, 3, logging=False))
    )
    clusterous(home, "destroy", quiet, "--yes")
    for workers in (2, 6):
        other = f"{name}-{workers}"
        times[f"create_{workers}w"] = clusterous(
            home, "create", str(workers_profile(home, other, workers))
        )
        clusterous(home, "destroy", other, "--yes")
    return times


def warm_up(home: Path) -> None:
    """Build the node image (if needed) outside the measurements: it is cached afterwards."""
    name = f"bench-warm-{uuid.uuid4().hex[:6]}"
    clusterous(home, "create", str(workers_profile(home, name, 1)))
    clusterous(home, "destroy", name, "--yes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clusterous-bench-") as tmp:
        home = Path(tmp)
        warm_up(home)
        rounds = [one_round(home) for _ in range(options.repeat)]
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    ratio = medians["create_6w"] / medians["create_2w"]
    logging_cost = medians["create_1c_3w"] / medians["create_1c_3w_nolog"] - 1
    print_table(medians, ratio, logging_cost, options.repeat)
    RESULTS.mkdir(exist_ok=True)
    report = {
        "median_seconds": medians,
        "rounds": rounds,
        "create_6w_over_2w": ratio,
        "targets_seconds": TARGETS,
        "target_ratio": 1.5,
        "logging_overhead": logging_cost,
        "target_logging_overhead": 0.10,
        "cpus": os.cpu_count(),
    }
    (RESULTS / "local_cluster.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'local_cluster.json'}")


def print_table(medians: dict[str, float], ratio: float, logging_cost: float, repeat: int) -> None:
    print(f"local provider, median of {repeat} run(s), {os.cpu_count()} CPUs")
    labels = {
        "create_1c_3w": "create (controller + 3 workers)",
        "add_node": "add-nodes 1",
        "destroy": "destroy (controller + 4 workers)",
        "create_2w": "create (controller + 2 workers)",
        "create_6w": "create (controller + 6 workers)",
        "create_1c_3w_nolog": "create (1 + 3 workers), logging off",
    }
    print_measures(labels, medians, TARGETS)
    print(
        f"{'6 workers / 2 workers':<34}{ratio:>9.2f}{1.5:>9.1f}  {'yes' if ratio <= 1.5 else 'NO'}"
    )
    verdict = "yes" if logging_cost <= 0.10 else "NO"
    print(f"{'central logging, added to create':<34}{logging_cost:>+9.1%}{'+10%':>9}  {verdict}")


if __name__ == "__main__":
    main()
