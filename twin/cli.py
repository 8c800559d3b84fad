"""``scripts/aws-twin start|stop``: the EC2 twin as a background process for a shell.

``start`` launches the twin in a process of its own (its log in the twin's
directory), waits until it serves, and prints the ``export`` lines for
``eval``; ``--moto URL`` uses a moto server that already runs. ``stop``
ends that process, which removes everything the twin made, and then sweeps
by label and directory whatever a crash could have left.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("CLUSTEROUS_TWIN_DIR", "/tmp/clusterous-twin"))
START_TIMEOUT = 600.0  # the first start builds the node image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aws-twin", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the twin's directory")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="start the twin; print the exports for eval")
    start.add_argument("--moto", metavar="URL", help="use this moto server instead of a new one")
    start.add_argument("--base-image", default="debian:bookworm-slim")
    start.add_argument("--foreground", action="store_true", help=argparse.SUPPRESS)
    commands.add_parser("stop", help="stop the twin and remove everything it made")
    args = parser.parse_args(argv)
    if args.command == "stop":
        return stop(args.dir)
    if args.foreground:
        return run_foreground(args.dir, args.moto, args.base_image)
    return start_background(args.dir, args.moto, args.base_image)


def state_file(folder: Path) -> Path:
    return folder / "state.json"


def export_lines(exports: dict[str, str]) -> str:
    lines = [f"export {k}={shlex.quote(v)}" for k, v in exports.items()]
    lines.append("unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN")
    return "\n".join(lines)


def start_background(folder: Path, moto: str | None, base_image: str) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    state = state_file(folder)
    if state.exists():
        print(
            f"aws-twin: a twin already runs from {folder}; 'scripts/aws-twin stop' first",
            file=sys.stderr,
        )
        return 1
    log = folder / "twin.log"
    command = [sys.executable, "-m", "twin.cli", "--dir", str(folder), "start", "--foreground"]
    command += ["--base-image", base_image] + (["--moto", moto] if moto else [])
    with log.open("ab") as out:
        child = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    print(f"aws-twin: starting (log: {log})", file=sys.stderr)
    deadline = time.monotonic() + START_TIMEOUT
    while not state.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            print(f"aws-twin: the twin did not start; see {log}", file=sys.stderr)
            return 1
        time.sleep(0.2)
    exports = json.loads(state.read_text())["exports"]
    print(export_lines(exports))
    print(f"aws-twin: running (pid {child.pid}); log: {log}", file=sys.stderr)
    return 0


def run_foreground(folder: Path, moto: str | None, base_image: str) -> int:
    from twin.core import Twin

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stdout,
    )
    done = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: done.set())
    twin = Twin(folder, moto_url=moto, base_image=base_image)
    twin.start()
    try:
        record = {"pid": os.getpid(), "twin_id": twin.twin_id, "exports": twin.exports()}
        state_file(folder).write_text(json.dumps(record, indent=2) + "\n")
        done.wait()
    finally:
        twin.stop()
        state_file(folder).unlink(missing_ok=True)
    return 0


def stop(folder: Path) -> int:
    state = state_file(folder)
    if not state.exists():
        print(f"aws-twin: no twin runs from {folder}", file=sys.stderr)
        return 0
    record = json.loads(state.read_text())
    pid = int(record["pid"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process_alive(pid):
            time.sleep(0.2)
    leftovers = sweep_leftovers(folder, str(record["twin_id"]))
    state.unlink(missing_ok=True)
    for line in leftovers:
        print(f"aws-twin: removed a leftover {line}", file=sys.stderr)
    print("aws-twin: stopped", file=sys.stderr)
    return 0


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def sweep_leftovers(folder: Path, twin_id: str) -> list[str]:
    import docker

    from twin.core import sweep

    client = docker.from_env()
    try:
        return sweep(client, twin_id, folder)
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
