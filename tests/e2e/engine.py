"""Restarting the Docker engine the tests run on, the way it was started.

Only the engine-restart test uses this, and only on an engine it may restart:
CI started the engine itself (``make docker``, CI=true), or the person running
the tests said so (CLUSTEROUS_TEST_ENGINE_RESTART=1). How it was started
decides how it restarts:

* scripts/ensure-docker.sh started dockerd in the background: its PID is in
  the script's pidfile (CLUSTEROUS_DOCKERD_PIDFILE, by default
  /run/clusterous-dockerd.pid). That process is stopped with SIGTERM (dockerd
  stops its containers as on a shutdown) and the script starts it again, with
  the same environment and so the same arguments.
* systemd runs it (docker.service): ``systemctl restart docker``.
* a dockerd outside systemd whose own pidfile (/var/run/docker.pid) names
  it, as an earlier ensure-docker.sh left it: stopped the same way, and
  started again by the script.

The PID is only signalled when it is a dockerd that listens on the very socket
DOCKER_HOST names, so a pidfile of another engine is never acted on.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.helpers import REAL_CLOCK, Clock, poll

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "ensure-docker.sh"
DEFAULT_PIDFILE = "/run/clusterous-dockerd.pid"  # scripts/ensure-docker.sh's
DEFAULT_SOCKET = "/var/run/docker.sock"
DOCKERD_OWN_PIDFILE = "/var/run/docker.pid"  # dockerd's default --pidfile
STOP_TIMEOUT = 180.0  # dockerd gives each container its stop timeout, in parallel
ALLOWED = "CLUSTEROUS_TEST_ENGINE_RESTART"


def may_restart(env: Mapping[str, str]) -> bool:
    return env.get("CI") == "true" or env.get(ALLOWED) == "1"


def engine_socket(env: Mapping[str, str]) -> Path | None:
    """The unix socket of the engine the tests use (None: not a local unix socket)."""
    host = env.get("DOCKER_HOST", "")
    if not host:
        return Path(DEFAULT_SOCKET)
    if host.startswith("unix://"):
        return Path(host.removeprefix("unix://"))
    return None


def _same_path(a: str, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def listening_inodes(socket_path: Path, proc: Path = Path("/proc")) -> set[str]:
    """The inodes of the unix sockets listening at ``socket_path`` (from /proc/net/unix)."""
    inodes = set()
    for line in (proc / "net" / "unix").read_text().splitlines()[1:]:
        fields = line.split()
        # Num RefCount Protocol Flags Type St Inode Path; flag 00010000 is "listening".
        if len(fields) >= 8 and int(fields[3], 16) & 0x10000 and _same_path(fields[7], socket_path):
            inodes.add(fields[6])
    return inodes


def serves(pid: int, socket_path: Path, proc: Path = Path("/proc")) -> bool:
    """Whether process ``pid`` is a dockerd listening on ``socket_path``."""
    try:
        if (proc / str(pid) / "comm").read_text().strip() != "dockerd":
            return False
        wanted = {f"socket:[{inode}]" for inode in listening_inodes(socket_path, proc)}
        fds = proc / str(pid) / "fd"
        return any(os.readlink(fd) in wanted for fd in fds.iterdir())
    except OSError:
        return False


@dataclass(frozen=True)
class ScriptEngine:
    """A dockerd that scripts/ensure-docker.sh started in the background."""

    pid: int
    env: Mapping[str, str] = field(repr=False)

    def describe(self) -> str:
        return f"dockerd {self.pid} started by scripts/ensure-docker.sh"

    def restart(self, clock: Clock = REAL_CLOCK) -> None:
        os.kill(self.pid, signal.SIGTERM)
        poll(
            lambda: (not Path(f"/proc/{self.pid}").exists(), f"dockerd {self.pid} still runs"),
            expected=f"dockerd {self.pid} to stop after SIGTERM",
            timeout=STOP_TIMEOUT,
            clock=clock,
        )
        started = subprocess.run(
            ["bash", str(SCRIPT)],
            env=dict(self.env),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        assert started.returncode == 0, f"{SCRIPT} failed:\n{started.stdout}{started.stderr}"


@dataclass(frozen=True)
class SystemdEngine:
    """docker.service under the machine's systemd."""

    def describe(self) -> str:
        return "docker.service under systemd"

    def restart(self, clock: Clock = REAL_CLOCK) -> None:
        done = subprocess.run(
            ["systemctl", "restart", "docker"], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, f"systemctl restart docker failed:\n{done.stderr}"


Engine = ScriptEngine | SystemdEngine


def _systemd_runs_docker() -> bool:
    if not Path("/run/systemd/system").is_dir():
        return False
    done = subprocess.run(
        ["systemctl", "is-active", "--quiet", "docker"], capture_output=True, timeout=30
    )
    return done.returncode == 0


def find_engine(env: Mapping[str, str] = os.environ) -> Engine | str:
    """How the tests' engine was started, or why that cannot be told (then nothing restarts)."""
    socket_path = engine_socket(env)
    if socket_path is None:
        return f"DOCKER_HOST={env.get('DOCKER_HOST')} is not a unix socket on this machine"
    pidfile = Path(env.get("CLUSTEROUS_DOCKERD_PIDFILE", DEFAULT_PIDFILE))
    pid = _pid_in(pidfile)
    if pid and serves(pid, socket_path):
        return ScriptEngine(pid, dict(env))
    if _same_path(DEFAULT_SOCKET, socket_path) and _systemd_runs_docker():
        return SystemdEngine()
    # An engine an earlier ensure-docker.sh started, before it kept a pidfile of its own.
    pid = _pid_in(Path(DOCKERD_OWN_PIDFILE))
    if pid and serves(pid, socket_path):
        return ScriptEngine(pid, dict(env))
    return (
        f"the engine on {socket_path} was started neither by scripts/ensure-docker.sh "
        f"(no dockerd of its pidfile {pidfile} listens there) nor by systemd (docker.service)"
    )


def _pid_in(pidfile: Path) -> int:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return 0
