#!/usr/bin/env python3
"""Benchmark of central logging: does a component printing fast lose any line?

On a new local cluster (controller, 1 master, 1 worker), a component on the
worker prints --rate lines a second for --seconds seconds (1,000 for 60 by
default, a burst each second), each line numbered, then sleeps. The lines are
counted where the dashboard searches them: the journals gathered on the
controller (systemd-journal-remote's store), until the count stops growing.
Prints lines sent against lines found (and distinct lines, which would show a
duplicate) and writes JSON to bench/results/logging.json.

    python bench/central_logging.py [--rate 1000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from timing import timed_cli

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "environments" / "busybox-web"
RESULTS = Path(__file__).parent / "results"

PRINTER = """#!/bin/sh
# Print RATE numbered lines a second (a burst, then a pause) for SECONDS seconds, then rest.
awk -v run="$RUN" -v rate="$RATE" -v seconds="$SECONDS_" 'BEGIN {
    for (s = 0; s < seconds; s++) {
        for (i = 0; i < rate; i++) printf "logbench %s %d %d\\n", run, s, i
        fflush()
        system("sleep 1")
    }
}'
exec sleep 1000000
"""

ENVIRONMENT = """name: logging-bench
environment:
  copy:
    - "app/"
  image:
    - dockerfile: "image/"
      image_name: "busybox-web"
  components:
    printer:
      machine: worker
      cpu: auto
      image: registry:5000/busybox-web
      cmd: "/bin/sh -c 'RUN={run} RATE={rate} SECONDS_={seconds} /bin/sh /data/app/printer.sh'"
"""


def clusterous(home: Path, *args: str) -> float:
    return timed_cli({**os.environ, "CLUSTEROUS_HOME": str(home)}, *args)


def on_controller(home: Path, cluster: str, command: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "clusterous", "ssh", "--cluster", cluster, "controller", command],
        env={**os.environ, "CLUSTEROUS_HOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def prepare(work: Path, run: str, rate: int, seconds: int) -> Path:
    target = work / "logging-bench"
    shutil.copytree(EXAMPLE / "image", target / "image", ignore=shutil.ignore_patterns("busybox"))
    script = REPO / "scripts" / "busybox-for-examples.sh"
    subprocess.run([str(script), str(target / "image")], check=True, capture_output=True)
    (target / "app").mkdir()
    (target / "app" / "printer.sh").write_text(PRINTER)
    env_file = target / "env.yml"
    env_file.write_text(ENVIRONMENT.format(run=run, rate=rate, seconds=seconds))
    return env_file


def count_found(home: Path, cluster: str, run: str) -> tuple[int, int]:
    """Lines of this run in the controller's gathered journals: all, and distinct."""
    command = (
        "journalctl --directory=/var/log/journal/remote COM_DOCKER_SWARM_SERVICE_NAME=printer"
        f" -o cat --no-pager | grep '^logbench {run} ' > /tmp/logbench.txt;"
        " wc -l < /tmp/logbench.txt; sort -u /tmp/logbench.txt | wc -l"
    )
    found, distinct = on_controller(home, cluster, command).split()
    return int(found), int(distinct)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--settle", type=float, default=60, help="seconds without new lines")
    options = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    sent = options.rate * options.seconds
    with tempfile.TemporaryDirectory(prefix="clusterous-bench-logging-") as tmp:
        home = Path(tmp)
        env_file = prepare(home, run, options.rate, options.seconds)
        cluster = f"bench-log-{run[:6]}"
        clusterous(home, "create", "--name", cluster, "--workers", "1")
        try:
            clusterous(home, "run", str(env_file), "--yes", "--cluster", cluster)
            started = time.monotonic()
            found = distinct = 0
            last_change = time.monotonic()
            while True:
                time.sleep(5)
                now_found, now_distinct = count_found(home, cluster, run)
                if now_found != found:
                    last_change = time.monotonic()
                found, distinct = now_found, now_distinct
                print(f"  {time.monotonic() - started:5.0f} s: {found} lines found", flush=True)
                waited = time.monotonic() - started > options.seconds
                if found >= sent or (waited and time.monotonic() - last_change > options.settle):
                    break
            elapsed = time.monotonic() - started
        finally:
            clusterous(home, "destroy", cluster, "--yes", "--delete-volume")
    print(f"component printed {options.rate} lines/s for {options.seconds} s")
    print(f"lines sent:     {sent}")
    print(f"lines found:    {found} ({distinct} distinct) on the controller")
    print(f"lost:           {sent - distinct}")
    RESULTS.mkdir(exist_ok=True)
    report = {
        "rate": options.rate,
        "seconds": options.seconds,
        "sent": sent,
        "found": found,
        "distinct": distinct,
        "lost": sent - distinct,
        "seconds_until_all_found": round(elapsed, 1),
        "cpus": os.cpu_count(),
    }
    (RESULTS / "logging.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten: {RESULTS / 'logging.json'}")


if __name__ == "__main__":
    main()
