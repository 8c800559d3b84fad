"""``clusterous quit``: stop the running application and its tunnels."""

from __future__ import annotations

import sys

import click

from clusterous.cli.compat import accepts_1_0
from clusterous.cli.context import App, pass_app
from clusterous.cli.render import ConsoleReporter
from clusterous.errors import InputError


@click.command("quit")
@accepts_1_0("quit")
@click.option("--cluster", help="Cluster name (default: current).")
@click.option("--tunnel-only", is_flag=True, help="Stop only the tunnels; keep the services.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def quit_(app: App, cluster: str | None, tunnel_only: bool, yes: bool) -> None:
    """Stop the environment's services and tunnels (the cluster stays)."""
    from clusterous.operations import environments
    from clusterous.operations.handle import open_cluster

    handle = open_cluster(app.home, cluster, app.profile_override, app.warn)
    if not yes and not tunnel_only:
        confirm_quit(handle.name)
    result = environments.quit_environment(
        handle, tunnel_only, ConsoleReporter(app.err, app.verbose).warn
    )
    ports = ", ".join(str(t.local_port) for t in result.tunnels) or "none"
    if tunnel_only:
        app.out.print(f"Stopped tunnels on local ports: {ports}.")
        return
    services = ", ".join(result.services) or "none"
    app.out.print(f"Stopped services: {services}; tunnels on local ports: {ports}.")


def confirm_quit(cluster: str) -> None:
    if not sys.stdin.isatty():
        raise InputError(
            "quitting the environment needs confirmation",
            "there is no terminal to ask on",
            "add --yes: 'clusterous quit --yes'",
        )
    click.confirm(f"Stop the application running on cluster '{cluster}'?", abort=True)
