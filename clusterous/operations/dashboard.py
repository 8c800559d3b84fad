"""The cluster dashboard: a web page served on the controller, reached through an SSH tunnel.

``open_dashboard`` copies the dashboard server (``clusterous/node/dashboard_server.py``
and its page) to the controller, starts it there as a transient systemd unit
listening on 127.0.0.1 only, and opens a background tunnel to it from a local
port the system hands out (so it never takes a port a user's tunnel wants).
The tunnel is the cluster's, recorded apart from the environment's: ``run``
and ``quit`` leave it open, ``destroy`` stops it. Each open also leaves the
cluster's cost so far on the controller for the page's cost box, as ``status``
does. See docs/dashboard.md.
"""

from __future__ import annotations

import hashlib
import shlex
import socket
import time
from collections.abc import Callable
from importlib import resources

from clusterous.environments import tunnels
from clusterous.errors import ClusterousError
from clusterous.manager.cost import cluster_cost, publish_cost
from clusterous.operations.environments import controller
from clusterous.operations.handle import ClusterHandle
from clusterous.records import TunnelRecord

DASHBOARD = "dashboard"
REMOTE_DIR = "/usr/local/lib/clusterous-dashboard"
REMOTE_PORT = 8470
UNIT = "clusterous-dashboard"
FILES = ("dashboard_server.py", "dashboard.html")
MESSAGE = "Dashboard: http://127.0.0.1:{port}/"


def server_files() -> dict[str, bytes]:
    package = resources.files("clusterous.node")
    return {name: package.joinpath(name).read_bytes() for name in FILES}


def version_of(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name])
    return digest.hexdigest()[:16]


def start_script(version: str) -> str:
    """Shell run on the controller: (re)start the server when its files changed or it stopped."""
    server = f"{REMOTE_DIR}/dashboard_server.py"
    return f"""set -eu
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
if [ "$(cat {REMOTE_DIR}/version 2>/dev/null || true)" = {version} ] \\
    && $sudo systemctl is-active --quiet {UNIT}; then
    echo running; exit 0
fi
$sudo systemctl stop {UNIT} 2>/dev/null || true
$sudo systemctl reset-failed {UNIT} 2>/dev/null || true
$sudo systemd-run --quiet --unit={UNIT} --property=Restart=on-failure \\
    /usr/bin/python3 {server} --listen 127.0.0.1:{REMOTE_PORT}
for _ in $(seq 50); do
    if python3 -c 'import socket; socket.create_connection(("127.0.0.1", {REMOTE_PORT}), 1)' \\
        2>/dev/null; then echo started; exit 0; fi
    sleep 0.2
done
$sudo journalctl -u {UNIT} --no-pager -n 20 >&2 || true
echo "the dashboard server did not start" >&2; exit 1
"""


def install_server(handle: ClusterHandle, warn: Callable[[str], None] = lambda _: None) -> str:
    """Copy the server to the controller and make sure it runs; 'started' or 'running'.

    The cluster's cost is written there too, for the page; ``warn`` hears why not.
    """
    files = server_files()
    version = version_of(files)
    cost, unknown = cluster_cost(handle.state(), handle.provider, time.time())
    with controller(handle) as session:
        unwritten = publish_cost(session, cost) if cost else unknown
        if unwritten:
            warn(unwritten)
        prefix = 'sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"; '
        installed = session.run(f"cat {REMOTE_DIR}/version 2>/dev/null").stdout.strip()
        if installed != version:
            for name, content in files.items():
                target = shlex.quote(f"{REMOTE_DIR}/{name}")
                session.check(
                    f"{prefix}$sudo mkdir -p {REMOTE_DIR} && $sudo tee {target}.new >/dev/null "
                    f"&& $sudo mv -f {target}.new {target}",
                    f"copying the dashboard's {name}",
                    stdin=content,
                )
        result = session.check(start_script(version), "starting the dashboard server")
        if installed != version:
            session.check(
                f"{prefix}echo {version} | $sudo tee {REMOTE_DIR}/version >/dev/null",
                "recording the dashboard's version",
            )
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "started"


def free_local_port() -> int:
    """A port the system hands out (its ephemeral range): never one a user's tunnel asked for."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def open_dashboard(
    handle: ClusterHandle, warn: Callable[[str], None] = lambda _: None
) -> TunnelRecord:
    """The dashboard's tunnel: the one already open, else a new one (server started first)."""
    state = handle.state()
    if state.controller is None:
        raise ClusterousError(
            f"cluster {handle.name!r} has no controller to serve the dashboard",
            None,
            f"see 'clusterous status {handle.name}'",
        )
    install_server(handle, warn)
    if state.dashboard and tunnels.is_our_tunnel(state.dashboard, handle.name):
        return state.dashboard
    wanted = TunnelRecord(free_local_port(), DASHBOARD, "127.0.0.1", REMOTE_PORT, 0, MESSAGE)
    log = handle.ledger.dir / "tunnel-dashboard.log"
    record = tunnels.start(handle.home.root, handle.name, wanted, log)
    handle.ledger.update(lambda s: setattr(s, "dashboard", record))
    return record
