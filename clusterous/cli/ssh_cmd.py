"""``clusterous ssh``: a shell (or one command) on the controller or any node."""

from __future__ import annotations

import shutil
import subprocess

import click

from clusterous.cli.context import App, pass_app
from clusterous.errors import ClusterousError


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("node", required=False, default="controller")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.option("--cluster", help="Cluster name (default: current).")
@pass_app
def ssh(app: App, node: str, command: tuple[str, ...], cluster: str | None) -> None:
    """Open a shell on NODE (default: the controller), or run COMMAND there.

    Host keys are pinned: the connection is refused if the node is not the one
    clusterous created. Example: clusterous ssh worker-1 -- df -h /data
    """
    from clusterous.operations import clusters, lease

    handle = clusters.open_cluster(app.home, cluster, app.profile_override, app.warn)
    lease.renew(handle)
    state = handle.state()
    argv = handle.access.ssh_command(state, state.node(node))
    if shutil.which("ssh") is None:
        raise ClusterousError(
            "the OpenSSH client 'ssh' is not installed",
            None,
            "install it (Debian/Ubuntu: sudo apt-get install openssh-client)",
        )
    if not command:
        argv.insert(1, "-t")
    click.get_current_context().exit(subprocess.call([*argv, *command]))
