"""``clusterous status``: nodes per group with their state, volume usage, services."""

from __future__ import annotations

import json

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.cost_render import cost_table
from clusterous.cli.render import (
    duration,
    lease_status_words,
    size,
    table,
)

STOPPED_WORDS = (
    "Stopped: it bills for its disks and stored images only (the cost above); "
    "'clusterous start {name}' starts it again."
)


@click.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
@pass_app
def status(app: App, name: str | None, as_json: bool) -> None:
    """Show the state of cluster NAME (default: the current cluster)."""
    from clusterous.operations import clusters

    # status reads the lease and does not renew it: polling status keeps nothing alive.
    handle = clusters.open_cluster(
        app.home, name, app.profile_override, renew=False, allow_stopped=True
    )
    seen = clusters.status(handle)
    if as_json:
        click.echo(json.dumps(seen.to_dict(), indent=2))
        return
    app.out.print(
        f"Cluster [bold]{seen.name}[/bold] ({seen.provider}, profile {seen.profile}): "
        f"{seen.status}, up {duration(seen.uptime_seconds)}"
    )
    rows = [
        (n.name, n.group, n.instance_type, n.state, n.machine, n.swarm, n.private_addr)
        for n in seen.nodes
    ]
    app.out.print(
        table(None, ["node", "group", "type", "state", "machine", "swarm", "address"], rows)
    )
    if seen.shared_volume:
        used, total = seen.shared_volume["used_bytes"], seen.shared_volume["size_bytes"]
        app.out.print(f"Shared volume /data: {size(used)} used of {size(total)}")
    if seen.services:
        services = [(s.name, s.mode, f"{s.running}/{s.desired}") for s in seen.services]
        app.out.print(table("Services", ["service", "mode", "running"], services))
    if seen.cost is not None:
        app.out.print(cost_table(seen.cost))
    if seen.lease is not None:
        app.out.print(lease_status_words(seen.lease))
        if seen.lease.nearly_over:
            app.warn(
                f"the lease of cluster {seen.name!r} is in its last 10 %: "
                f"'clusterous extend {seen.name}' keeps it"
            )
    if seen.stopped:
        app.out.print(STOPPED_WORDS.format(name=seen.name))
    for problem in seen.problems:
        app.err.print(f"[yellow]![/yellow] {problem}")
