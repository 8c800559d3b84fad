"""``clusterous tunnel``: show the environment's tunnels, re-opening any that died."""

from __future__ import annotations

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import ConsoleReporter, table


@click.command()
@click.option("--cluster", help="Cluster name (default: current).")
@pass_app
def tunnel(app: App, cluster: str | None) -> None:
    """List the tunnels of the running environment; re-open those that died."""
    from clusterous.operations import environments
    from clusterous.operations.handle import open_cluster

    handle = open_cluster(app.home, cluster, app.profile_override, app.warn)
    found = environments.reopen_tunnels(handle, ConsoleReporter(app.err, app.verbose).warn)
    if not found:
        app.out.print("No tunnels: the running environment has none, or none is running.")
        return
    rows = [(r.url, f"{r.component}:{r.remote_port}", r.pid, how) for r, how in found]
    app.out.print(table(None, ["local", "component", "pid", "state"], rows))
    for record, _ in found:
        app.out.print(record.rendered_message())
