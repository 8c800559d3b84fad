"""One command at a time on a cluster: an exclusive lock held for a whole command.

Every command that changes a cluster (create, add-nodes, rm-nodes, run, quit,
tunnel, destroy, and workon when it rebuilds) takes this lock first, so two
CLIs never interleave their steps on one cluster (DESIGN section 5). The
ledger's own lock only makes each single write atomic; this one spans a command.

The lock is ``$CLUSTEROUS_HOME/locks/<cluster>.lock``, held with ``flock`` for
the command's life, so the kernel frees it when the process ends, however it
ends. The file also records who holds it (command line, pid, the process's
start time, since when), so a second command says at once who is in its way.
A record left behind by a process that is gone (its pid dead, or reused by
another program: the start times differ) is stale and is taken over with a
message. The file lives outside the cluster's directory so that destroy can
remove that directory while holding the lock; it is never deleted, because
deleting a flock file lets two processes lock two different files of one name.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from clusterous.errors import ClusterousError
from clusterous.home import Home, check_cluster_name

Warn = Callable[[str], None]


def unheard(text: str) -> None:
    """A Warn for callers with no one to tell (scripts, tests)."""


class Processes(Protocol):
    def start_time(self, pid: int) -> str | None:
        """When process ``pid`` started, as the OS says ("" if it cannot say); None if none."""


class LocalProcesses:
    """The processes of this machine, read from /proc (Linux) or probed with a signal 0."""

    def start_time(self, pid: int) -> str | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return None if Path("/proc/self/stat").exists() else self._probe(pid)
        except OSError:
            return self._probe(pid)
        # comm (field 2) may hold spaces and parentheses: count fields after its last ")"
        return stat.rsplit(")", 1)[1].split()[19]  # field 22, starttime in clock ticks

    @staticmethod
    def _probe(pid: int) -> str | None:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return ""
        return ""


@dataclass(frozen=True)
class Holder:
    """Who holds a cluster's lock, as written in the lock file."""

    pid: int
    started: str  # the process's start time as the OS reports it; "" when unknown
    command: str
    since: float  # wall-clock seconds

    def to_json(self) -> str:
        return json.dumps(asdict(self)) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        try:
            raw = json.loads(text)
            return cls(int(raw["pid"]), str(raw["started"]), str(raw["command"]), raw["since"])
        except (ValueError, TypeError, KeyError):
            return None

    def is_running(self, processes: Processes) -> bool:
        """Its process still exists and is the same program (not a reused pid)."""
        now = processes.start_time(self.pid)
        if now is None:
            return False
        return not (now and self.started) or now == self.started

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"'{self.command}' (pid {self.pid}, since {when})"


class ClusterBusy(ClusterousError):
    """Another command is changing the cluster (exit code 1)."""

    def __init__(self, cluster: str, holder: Holder | None) -> None:
        who = holder.describe() if holder else "another clusterous command, just starting,"
        fix = "wait for it to finish, then run your command again"
        if holder:
            fix += f"; if it hangs, stop it (Ctrl-C in its terminal, or 'kill {holder.pid}')"
        super().__init__(f"cluster {cluster!r} is busy", f"{who} is changing it", fix)
        self.holder = holder


def lock_path(home: Home, cluster: str) -> Path:
    return home.root / "locks" / f"{check_cluster_name(cluster)}.lock"


def this_command() -> str:
    """The command line of this process, as the user typed it (near enough)."""
    return " ".join(["clusterous", *(shlex.quote(a) for a in sys.argv[1:])])


@dataclass(frozen=True)
class LockOptions:
    """What the lock needs from the world; tests give fakes."""

    command: Callable[[], str] = this_command
    pid: Callable[[], int] = os.getpid
    processes: Processes = field(default_factory=LocalProcesses)
    clock: Callable[[], float] = time.time


@contextmanager
def cluster_lock(
    home: Home, cluster: str, warn: Warn, options: LockOptions | None = None
) -> Iterator[None]:
    """Hold ``cluster``'s command lock for the block, or raise ClusterBusy at once.

    Re-entrant within one process: a command that calls another (create running
    its profile's environment) does not lock itself out.
    """
    options = options or LockOptions()
    path = lock_path(home, cluster)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        pid = options.pid()
        me = Holder(pid, options.processes.start_time(pid) or "", options.command(), 0.0)
        if not _try_flock(fd):
            holder = _read(fd)
            if holder is None or not _same_process(holder, me):
                raise ClusterBusy(cluster, holder)
            yield  # already ours, further up this process's stack
            return
        _take(fd, cluster, me, warn, options)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing frees the flock


def _take(fd: int, cluster: str, me: Holder, warn: Warn, options: LockOptions) -> None:
    """We have the flock: refuse a live holder it did not stop, take over a stale one."""
    previous = _read(fd)
    if previous is not None and not _same_process(previous, me):
        if previous.is_running(options.processes):
            raise ClusterBusy(cluster, previous)  # where flock is not honoured (network FS)
        warn(
            f"taking over the lock of cluster {cluster!r} left by {previous.describe()}: "
            f"{_why_stale(previous, options.processes)}"
        )
    _write(fd, Holder(me.pid, me.started, me.command, options.clock()))


def _why_stale(holder: Holder, processes: Processes) -> str:
    if processes.start_time(holder.pid) is None:
        return "that process is no longer running"
    return f"pid {holder.pid} is now another program"


def _same_process(holder: Holder, me: Holder) -> bool:
    return holder.pid == me.pid and holder.started == me.started


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read(fd: int) -> Holder | None:
    return Holder.from_json(os.pread(fd, 65536, 0).decode("utf-8", "replace"))


def _write(fd: int, holder: Holder) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, holder.to_json().encode(), 0)
