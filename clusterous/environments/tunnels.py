"""SSH tunnels that outlive the CLI: one background process per tunnel.

``run`` and ``tunnel`` start ``python -m clusterous.environments.tunnel_process``
in its own session, wait until its local port answers (which it does only
once a connection went through to the remote end), and record its pid, start
time and port in the cluster's state; ``quit`` and ``destroy`` stop it again.
A pid is only ever signalled when it still runs this very tunnel (command
line and start time), so a reused pid is never touched.
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

from clusterous.environments.processes import (
    describe,
    listening_inodes,
    port_owner,
    process_info,
)
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
    """A local port another program already listens on is named by its owner, with the fix."""
    if is_free(port):
        return
    owner = describe(port_owner(port))
    free = suggest_free_port(port, is_free)
    hint = f"port {free} is free: " if free else ""
    raise InputError(
        f"local port {port} for the tunnel to {component!r} is already in use on this machine",
        f"{owner} listens on it",
        f"{hint}choose another local port in 'expose_tunnel:' (e.g. {free or 'another'}:"
        f"{component}:...), or stop {owner}",
    )


def tunnel_argv(home: Path, cluster: str, record: TunnelRecord) -> list[str]:
    return [
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


def is_tunnel_process(pid: int) -> bool:
    """True when ``pid`` runs some tunnel process (of any cluster, any port)."""
    info = process_info(pid)
    return info is not None and MODULE in info.argv


def is_our_tunnel(record: TunnelRecord, cluster: str) -> bool:
    """True when the recorded pid still runs this very tunnel: same cluster, port, start time.

    A pid the system gave to another process since (even another tunnel) does
    not match, so it is never signalled. Old ledgers recorded no start time:
    the command line alone decides for them.
    """
    info = process_info(record.pid)
    if info is None or MODULE not in info.argv:
        return False
    if record.started and info.started != record.started:
        return False
    return _option(info.argv, "--cluster") == cluster and _option(
        info.argv, "--local-port"
    ) == str(record.local_port)


def _option(argv: Sequence[str], name: str) -> str | None:
    for flag, value in zip(argv, argv[1:], strict=False):
        if flag == name:
            return value
    return None


def stop(record: TunnelRecord, cluster: str, wait: float = 3.0) -> bool:
    """Stop the tunnel's process; False when it was not running."""
    if not is_our_tunnel(record, cluster):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        _reap(record.pid)
        if not is_our_tunnel(record, cluster):
            return True
        time.sleep(0.05)
    if is_our_tunnel(record, cluster):
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGKILL)
    _reap(record.pid)
    return True


def _reap(pid: int) -> None:
    """Collect our own child's exit status (only when we started it)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop_all(records: Sequence[TunnelRecord], cluster: str) -> list[TunnelRecord]:
    return [record for record in records if stop(record, cluster)]


def why_not_open(record: TunnelRecord, cluster: str) -> str | None:
    """None when the tunnel's process runs and its port answers; else what is wrong.

    The tunnel process listens only while its SSH connection is up and the
    remote end took a connection through it; whether the remote end still
    answers is for the caller to check through its own SSH session.
    """
    if not is_our_tunnel(record, cluster):
        return "its process is gone"
    held = listening_inodes(record.local_port)
    owner = port_owner(record.local_port) if held else None
    if held and owner is not None and owner.pid != record.pid:
        return f"its port is held by {describe(owner)}"
    if not answering(record.local_port):
        return "its port does not answer (the SSH connection is being opened again)"
    return None


def answering(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def start(
    home: Path, cluster: str, record: TunnelRecord, log_path: Path, timeout: float = START_TIMEOUT
) -> TunnelRecord:
    """Start the tunnel process; done when its port answers through it to the remote end.

    The process listens only after it logged in to the controller and opened
    a connection to the remote end, so an answering port means all of that.
    """
    argv = tunnel_argv(home, cluster, record)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    deadline = time.monotonic() + timeout
    while not _listening(process.pid, record.local_port):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            raise _failed_to_start(record, log_path)
        time.sleep(0.05)
    info = process_info(process.pid)
    return replace(record, pid=process.pid, started=info.started if info else "")


def _listening(pid: int, port: int) -> bool:
    """The port answers, and (where this can be seen) it is ``pid`` that listens on it."""
    if not answering(port):
        return False
    owner = port_owner(port)
    return owner is None or owner.pid == pid


def _failed_to_start(record: TunnelRecord, log_path: Path) -> ClusterousError:
    lines = log_path.read_text(errors="replace").splitlines()[-5:] if log_path.exists() else []
    return ClusterousError(
        f"the tunnel localhost:{record.local_port} -> {record.component}:{record.remote_port} "
        "did not open",
        "\n".join(lines) or "its process ended without a word",
        f"see {log_path}; then 'clusterous tunnel' to try again",
    )
