"""``clusterous dashboard`` (and ``logging``, Clusterous 1.0's name): the cluster in a browser."""

from __future__ import annotations

import click

from clusterous.cli.context import App, pass_app


@click.command()
@click.option("--cluster", help="Cluster name (default: current).")
@pass_app
def dashboard(app: App, cluster: str | None) -> None:
    """Open the cluster's dashboard (nodes, services, logs) through an SSH tunnel.

    Prints the dashboard's URL on 127.0.0.1; the tunnel stays open in the
    background until 'clusterous quit' or 'clusterous destroy'.
    """
    from clusterous.operations.dashboard import open_dashboard
    from clusterous.operations.handle import open_cluster

    handle = open_cluster(app.home, cluster, app.profile_override)
    record = open_dashboard(handle, app.warn)
    app.out.print(record.rendered_message())


@click.command("logging")
@click.option("--cluster", help="Cluster name (default: current).")
@click.pass_context
def logging_(ctx: click.Context, cluster: str | None) -> None:
    """Clusterous 1.0's name for 'dashboard': open the central logging page."""
    ctx.invoke(dashboard, cluster=cluster)
