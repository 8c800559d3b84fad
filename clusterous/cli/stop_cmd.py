"""``clusterous stop`` and ``clusterous start``: pause a cluster's compute, and bring it back."""

from __future__ import annotations

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.cost_render import cost_table
from clusterous.cli.render import ConsoleReporter
from clusterous.cli.status_cmd import STOPPED_WORDS

timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds to wait for the nodes.",
)


@click.command()
@click.argument("name", required=False)
@timeout_option
@pass_app
def stop(app: App, name: str | None, timeout: float) -> None:
    """Stop the machines of cluster NAME; /data, its images and its definition stay.

    NAME defaults to the current cluster. Its tunnels close; 'clusterous
    start NAME' brings it all back. A stopped cluster bills for its disks only.
    """
    from clusterous.operations import pause
    from clusterous.operations.handle import open_cluster

    handle = open_cluster(app.home, name, app.profile_override, renew=False, allow_stopped=True)
    done = pause.stop(handle, ConsoleReporter(app.err, app.verbose), timeout)
    if done.already:
        app.out.print(f"Cluster [bold]{handle.name}[/bold] is already stopped.")
    else:
        app.out.print(f"Cluster [bold]{handle.name}[/bold] is stopped ({len(done.nodes)} nodes).")
    if done.cost is not None:
        app.out.print(cost_table(done.cost))
    app.out.print(STOPPED_WORDS.format(name=handle.name))


@click.command()
@click.argument("name", required=False)
@timeout_option
@pass_app
def start(app: App, name: str | None, timeout: float) -> None:
    """Start the stopped cluster NAME again, with its services and tunnels.

    NAME defaults to the current cluster. Every node comes back Ready in
    Swarm, the running environment's services run again and its tunnels
    reopen; the lease starts afresh from now.
    """
    from clusterous.operations import lease, pause
    from clusterous.operations.handle import open_cluster

    handle = open_cluster(app.home, name, app.profile_override, renew=False, allow_stopped=True)
    done = pause.start(handle, ConsoleReporter(app.err, app.verbose), timeout)
    if done.already:
        app.out.print(f"Cluster [bold]{handle.name}[/bold] is running: nothing to start.")
        return
    app.out.print(f"Cluster [bold]{handle.name}[/bold] is running again.")
    if done.lease is not None and done.lease.seconds_left is not None:
        left = lease.duration_words(done.lease.seconds_left)
        app.out.print(f"Its lease ends in {left} ('clusterous extend' keeps it longer).")
    for record, _ in done.tunnels:
        app.out.print(record.rendered_message())
