"""SSH tunnels that outlive the CLI: one background process per tunnel.

``run`` and ``tunnel`` start ``python -m clusterous.environments.tunnel_process``
in its own session, wait until its local port answers, and record its pid
and port in the cluster's state; ``quit`` and ``destroy`` stop it again. A
pid is only ever signalled when it still runs our tunnel process, so a
recycled pid is never touched.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from clusterous.errors import ClusterousError, InputError
from clusterous.records import TunnelRecord

MODULE = "clusterous.environments.tunnel_process"
START_TIMEOUT = 20.0


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a tunnel could listen there (closed connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def suggest_free_port(port: int, is_free: Any = port_free) -> int | None:
    for candidate in range(port + 1, min(port + 200, 65536)):
        if is_free(candidate):
            return candidate
    return None


def check_port(port: int, component: str, is_free: Any = port_free) -> None:
    """A local port someone else already listens on is named, with a free one to use."""
    if is_free(port):
        return
    free = suggest_free_port(port, is_free)
    hint = f"port {free} is free: " if free else ""
    raise InputError(
        f"local port {port} for the tunnel to {component!r} is already in use on this machine",
        "another program listens on it",
        f"{hint}change the local port in 'expose_tunnel:' (e.g. {free or 'another'}:"
        f"{component}:...), or stop the program that uses {port}",
    )


def is_tunnel_process(pid: int) -> bool:
    """True when ``pid`` runs and is one of our tunnel processes."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self").exists():
        try:
            return MODULE.encode() in cmdline.read_bytes()
        except OSError:
            return False
    return True  # no /proc (macOS): the pid is alive; trust the record


def stop(record: TunnelRecord, wait: float = 3.0) -> bool:
    """Stop the tunnel's process; False when it was not running."""
    if not is_tunnel_process(record.pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not is_tunnel_process(record.pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGKILL)
    _reap(record.pid)
    return True


def _reap(pid: int) -> None:
    """Collect our own child's exit status (only when we started it)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_all(records: Sequence[TunnelRecord]) -> list[TunnelRecord]:
    return [record for record in records if stop(record)]


def answering(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start(
    home: Path, cluster: str, record: TunnelRecord, log_path: Path, timeout: float = START_TIMEOUT
) -> TunnelRecord:
    """Start the tunnel process and wait until its local port accepts connections."""
    argv = [
        sys.executable,
        "-m",
        MODULE,
        "--home",
        str(home),
        "--cluster",
        cluster,
        "--local-port",
        str(record.local_port),
        "--remote",
        f"{record.remote_host}:{record.remote_port}",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while not answering(record.local_port):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            raise _failed_to_start(record, log_path)
        time.sleep(0.05)
    return replace(record, pid=process.pid)


def _failed_to_start(record: TunnelRecord, log_path: Path) -> ClusterousError:
    lines = log_path.read_text(errors="replace").splitlines()[-5:] if log_path.exists() else []
    return ClusterousError(
        f"the tunnel localhost:{record.local_port} -> {record.component}:{record.remote_port} "
        "did not open",
        "\n".join(lines) or "its process ended without a word",
        f"see {log_path}; then 'clusterous tunnel' to try again",
    )
