"""``clusterous add-nodes`` and ``clusterous rm-nodes``: grow and shrink a node group."""

from __future__ import annotations

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import ConsoleReporter

cluster_option = click.option("--cluster", "cluster", help="Cluster name (default: current).")
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds to wait for the nodes.",
)


@click.command("add-nodes")
@click.argument("count", type=int)
@click.argument("group", required=False)
@click.option("--type", "instance_type", help="Instance type (default: the group's).")
@cluster_option
@timeout_option
@pass_app
def add_nodes(
    app: App,
    count: int,
    group: str | None,
    instance_type: str | None,
    cluster: str | None,
    timeout: float,
) -> None:
    """Add COUNT nodes to GROUP (default: 'worker')."""
    from clusterous.operations import clusters

    handle = clusters.open_cluster(app.home, cluster, app.profile_override, app.warn)
    reporter = ConsoleReporter(app.err, app.verbose)
    added = clusters.grow(handle, reporter, count, group, instance_type, timeout)
    names = ", ".join(n.name for n in added)
    app.out.print(f"Added {names} to cluster {handle.name} ({reporter.elapsed():.1f} s).")


@click.command("rm-nodes")
@click.argument("count", type=int)
@click.argument("group", required=False)
@cluster_option
@timeout_option
@pass_app
def rm_nodes(app: App, count: int, group: str | None, cluster: str | None, timeout: float) -> None:
    """Remove COUNT nodes from GROUP (default: 'worker'), moving their tasks first."""
    from clusterous.operations import clusters

    handle = clusters.open_cluster(app.home, cluster, app.profile_override, app.warn)
    reporter = ConsoleReporter(app.err, app.verbose)
    removed = clusters.shrink(handle, reporter, count, group, timeout)
    names = ", ".join(n.name for n in removed)
    app.out.print(f"Removed {names} from cluster {handle.name} ({reporter.elapsed():.1f} s).")
