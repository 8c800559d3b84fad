#!/usr/bin/env python3
"""Benchmark of the EC2 path on the twin: create to Swarm-ready, and destroy, through the CLI.

Starts the EC2 twin in-process (twin/: moto whose instances boot as node
containers), saves an AWS profile against it with `clusterous setup`, and
measures, with the node image already built:
  * create of a controller + 1 master + 2 workers, then its destroy,
  * create of a controller + 1 master + 6 workers, then its destroy.
Each group is one run_instances whose nodes boot their user-data in
parallel, so 6 workers should cost at most 1.5x the time of 2 (on a 2-core
machine the boots share the CPUs: the ratio follows each node's boot CPU, see
bench/create_ratio.py). The sizes alternate within each round (2, 6, 2, 6 ...),
so both see the same load on a shared machine. Each figure is
the median of --repeat runs of the `clusterous` command as a user types it
(process start included). Prints a table and writes JSON to
bench/results/aws_twin.json. Needs root (loop devices) and a Docker engine.

    python bench/aws_twin.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

from table import print_measures
from timing import timed_cli as clusterous

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from twin.core import Twin  # noqa: E402

RESULTS = Path(__file__).parent / "results"
TARGET_RATIO = 1.5
REGION = "eu-west-1"


def cli_env(twin: Twin, home: Path) -> dict[str, str]:
    env = {**os.environ, **twin.exports(), "CLUSTEROUS_HOME": str(home), "NO_COLOR": "1"}
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "CLUSTEROUS_PROFILE"):
        env.pop(name, None)
    return env


def create_and_destroy(env: dict[str, str], workers: int) -> tuple[float, float]:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    create = clusterous(env, "create", "--name", name, "--workers", str(workers), "--yes")
    destroy = clusterous(env, "destroy", name, "--yes", "--delete-volume")
    return create, destroy


def one_round(env: dict[str, str]) -> dict[str, float]:
    times: dict[str, float] = {}
    for workers in (2, 6):
        create, destroy = create_and_destroy(env, workers)
        times[f"create_{workers}w"] = create
        times[f"destroy_{workers}w"] = destroy
    return times


def measure(folder: Path, repeat: int) -> tuple[list[dict[str, float]], list[str]]:
    """Rounds of measures on a fresh twin, and what the twin still held at the end."""
    with Twin(folder / "twin") as twin:
        env = cli_env(twin, folder / "home")
        clusterous(
            env,
            "setup",
            "--yes",
            "--region",
            REGION,
            "--bucket",
            "clusterous-bench",
            "--allowed-cidr",
            "127.0.0.1/32",
        )
        create_and_destroy(env, 1)  # warm-up: first imports, first boot of the image
        rounds = [one_round(env) for _ in range(repeat)]
        return rounds, twin.machines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clusterous-bench-twin-") as tmp:
        rounds, left = measure(Path(tmp), options.repeat)
    if left:
        raise SystemExit(f"the twin still held {left} after the destroys")
    medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    ratio = medians["create_6w"] / medians["create_2w"]
    print_table(medians, ratio, options.repeat)
    RESULTS.mkdir(exist_ok=True)
    report = {
        "median_seconds": medians,
        "rounds": rounds,
        "create_6w_over_2w": ratio,
        "target_ratio": TARGET_RATIO,
        "cpus": os.cpu_count(),
    }
    (RESULTS / "aws_twin.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'aws_twin.json'}")


def print_table(medians: dict[str, float], ratio: float, repeat: int) -> None:
    print(f"EC2 twin, median of {repeat} run(s), {os.cpu_count()} CPUs")
    labels = {
        "create_2w": "create to Swarm-ready (controller + master + 2 workers)",
        "destroy_2w": "destroy (4 nodes)",
        "create_6w": "create to Swarm-ready (controller + master + 6 workers)",
        "destroy_6w": "destroy (8 nodes)",
    }
    print_measures(labels, medians, {})
    width = max(len(label) for label in labels.values()) + 2
    verdict = "yes" if ratio <= TARGET_RATIO else "NO"
    print(f"{'create, 6 workers / 2 workers':<{width}}{ratio:>9.2f}{TARGET_RATIO:>9.1f}  {verdict}")


if __name__ == "__main__":
    main()
