"""``clusterous logs``: a component's output from every node."""

from __future__ import annotations

import click

from clusterous.cli.context import App, pass_app


@click.command()
@click.argument("component")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", type=click.IntRange(min=0), help="Only the last N lines of each task.")
@click.option("--cluster", help="Cluster name (default: current).")
@pass_app
def logs(app: App, component: str, follow: bool, tail: int | None, cluster: str | None) -> None:
    """Print COMPONENT's output, each line prefixed with its node."""
    from clusterous.operations import components
    from clusterous.operations.handle import open_cluster

    handle = open_cluster(app.home, cluster, app.profile_override, app.warn)
    components.logs(
        handle, component, lambda node, line: click.echo(f"{node} | {line}"), follow, tail
    )
