"""``clusterous connect``: an interactive shell in a running container of a component."""

from __future__ import annotations

import subprocess

import click

from clusterous.cli.context import App, pass_app


@click.command()
@click.argument("component")
@click.option("--task", type=click.IntRange(min=1), help="Which container, when there are several.")
@click.option("--cluster", help="Cluster name (default: current).")
@pass_app
def connect(app: App, component: str, task: int | None, cluster: str | None) -> None:
    """Open a shell in a running container of COMPONENT (host keys pinned)."""
    from clusterous.operations import components
    from clusterous.operations.handle import open_cluster

    handle = open_cluster(app.home, cluster, app.profile_override, app.warn)
    argv = components.connect_command(handle, component, task)
    click.get_current_context().exit(subprocess.call(argv))
