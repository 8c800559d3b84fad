"""``clusterous workon`` and ``clusterous ls-clusters``: choose and find clusters."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import ConsoleReporter, table


@click.command()
@click.argument("name")
@pass_app
def workon(app: App, name: str) -> None:
    """Make NAME the current cluster; rebuild its local files from the cluster if lost."""
    from clusterous.operations import clusters

    state = clusters.workon(
        app.home, name, app.profile_override, ConsoleReporter(app.err, app.verbose).warn
    )
    app.out.print(f"Working on cluster [bold]{state.name}[/bold] ({len(state.nodes)} nodes).")


@click.command("ls-clusters")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
@pass_app
def ls_clusters(app: App, as_json: bool) -> None:
    """List the clusters on this machine and those found by label with the profile."""
    from clusterous.operations import clusters

    found = clusters.list_clusters(app.home, app.profile_override)
    if as_json:
        click.echo(json.dumps([asdict(c) for c in found], indent=2))
        return
    if not found:
        app.out.print("No clusters. Create one with 'clusterous create'.")
        return
    rows = [("*" if c.current else "", c.name, c.provider, c.status, c.nodes) for c in found]
    app.out.print(table(None, ["", "name", "provider", "status", "nodes"], rows))
