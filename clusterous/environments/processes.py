"""Who a process is, and who holds a local port: what the tunnels need to tell the truth.

A recorded pid is only trusted when the process still has the command line
and the start time it had when recorded: pids are reused, and a reused pid
must never be signalled. A local port someone else listens on is named by
its owner, so the user knows what to stop. Linux answers from /proc; other
systems from ``ps`` (and the port's owner stays "another program").
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # the TCP state of a listening socket in /proc/net/tcp


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    name: str
    argv: tuple[str, ...]
    started: str  # the kernel's start time: ticks since boot on Linux, ps's lstart elsewhere


def process_info(pid: int, proc: Path = PROC) -> ProcessInfo | None:
    """The running process ``pid``, or None when there is none (or it cannot be read)."""
    if pid <= 0:
        return None
    if (proc / "self").exists():
        return _from_proc(pid, proc)
    return _from_ps(pid)


def _from_proc(pid: int, proc: Path) -> ProcessInfo | None:
    where = proc / str(pid)
    try:
        argv = (where / "cmdline").read_bytes().split(b"\0")
        stat = (where / "stat").read_text()
        name = (where / "comm").read_text().strip()
    except OSError:
        return None
    # Fields after the name, which is in parentheses and may hold spaces: the
    # state is field 3, the start time field 22 (proc(5)).
    fields = stat[stat.rfind(")") + 2 :].split()
    args = tuple(a.decode(errors="replace") for a in argv if a)
    if len(fields) < 20 or fields[0] in ("Z", "X") or not args:
        return None  # a zombie, or exiting (its command line is gone already)
    return ProcessInfo(pid, name, args, fields[19])


def _from_ps(pid: int) -> ProcessInfo | None:
    def ps(column: str) -> str:
        done = subprocess.run(
            ["ps", "-p", str(pid), "-o", f"{column}="], capture_output=True, text=True
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    started = ps("lstart")
    if not started:
        return None
    return ProcessInfo(pid, Path(ps("comm")).name, tuple(ps("command").split()), started)


def describe(info: ProcessInfo | None) -> str:
    if info is None:
        return "another program"
    return f"{info.name or 'a program'} (pid {info.pid})"


def port_owner(port: int, proc: Path = PROC) -> ProcessInfo | None:
    """The process listening on TCP ``port`` of this machine, when this user may see it."""
    inodes = listening_inodes(port, proc)
    if not inodes:
        return None
    for pid_dir in proc.glob("[0-9]*"):
        try:
            links = [os.readlink(fd) for fd in (pid_dir / "fd").iterdir()]
        except OSError:
            continue  # gone, or another user's
        if any(link.startswith("socket:[") and link[8:-1] in inodes for link in links):
            return process_info(int(pid_dir.name), proc)
    return None


def listening_inodes(port: int, proc: Path = PROC) -> set[str]:
    """The inodes of the sockets listening on ``port`` (any address, IPv4 or IPv6)."""
    found: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            columns = line.split()
            if len(columns) > 9 and columns[3] == LISTEN:
                if int(columns[1].rsplit(":", 1)[1], 16) == port:
                    found.add(columns[9])
    return found
