"""The node's lease script (``clusterous-lease``, from bootstrap.sh), run by bash on a fake clock.

The script is taken from the rendered bootstrap exactly as a node writes it,
then sourced with its three paths moved into a temporary directory and four
edges replaced by shell functions: the clock (``now``), the node's end
(``end_node`` prints instead of powering off), and what the idle check reads
from the machine (``docker service ls`` and ``ps``). Everything else is the
script itself.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from clusterous.node import BootstrapParams, render_bootstrap

BASH = shutil.which("bash")


def lease_script_text() -> str:
    """What ``lease_script`` in bootstrap.sh writes to /usr/local/sbin/clusterous-lease."""
    script = render_bootstrap(BootstrapParams(cluster="demo", node="controller", role="controller"))
    script = script[: -len('main "$@"\n')] + "lease_script\n"
    done = subprocess.run(
        [str(BASH), "-s"], input=script, capture_output=True, text=True, check=True, timeout=30
    )
    return done.stdout


@dataclass
class LeaseNode:
    """One node's lease files in ``root``; ``shared`` is the cluster's /data/.clusterous/lease."""

    root: Path
    shared: Path
    script: Path
    replicas: list[str] = field(default_factory=list)  # `docker service ls` Replicas column
    sessions: list[str] = field(default_factory=list)  # `ps -eo etimes=,args=` lines

    @classmethod
    def make(cls, root: Path, shared: Path, script: Path) -> LeaseNode:
        root.mkdir(parents=True, exist_ok=True)
        return cls(root, shared, script)

    @property
    def state(self) -> Path:
        return self.root / "state"

    def reboot(self) -> None:
        """What a boot does to the lease's files: /run (a tmpfs) starts empty."""
        shutil.rmtree(self.root / "run", ignore_errors=True)

    def cached_end(self) -> int | None:
        path = self.state / "expires"
        return int(path.read_text()) if path.exists() else None

    def run(self, now: int, *arguments: str) -> subprocess.CompletedProcess[str]:
        replicas = "\n".join(self.replicas)
        sessions = "\n".join(self.sessions)
        harness = f"""
source {shlex.quote(str(self.script))}
SHARED={shlex.quote(str(self.shared))}
STATE={shlex.quote(str(self.state))}
RUN={shlex.quote(str(self.root / "run"))}
now() {{ echo {now}; }}
end_node() {{ echo "ENDED $1"; }}
service_replicas() {{ printf '%s\\n' {shlex.quote(replicas)} | sed '/^$/d'; }}
ps() {{ printf '%s\\n' {shlex.quote(sessions)} | sed '/^$/d'; }}
main {shlex.join(arguments)}
"""
        return subprocess.run(
            [str(BASH), "-c", harness], capture_output=True, text=True, timeout=30, check=False
        )
