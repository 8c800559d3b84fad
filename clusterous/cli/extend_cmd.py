"""``clusterous extend``: keep a cluster alive for longer than its lease."""

from __future__ import annotations

import click

from clusterous.cli.context import App, pass_app
from clusterous.errors import InputError


# A negative HOURS is an argument to refuse clearly, not an unknown option.
@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("name", required=False)
@click.argument("hours", required=False)
@click.option("--yes", "-y", is_flag=True, help="Allow a lease of more than 7 days.")
@pass_app
def extend(app: App, name: str | None, hours: str | None, yes: bool) -> None:
    """Make the lease of cluster NAME end no sooner than HOURS from now.

    HOURS defaults to the cluster's max_hours; NAME to the current cluster.
    'clusterous extend 4' extends the current cluster by 4 hours.
    """
    from clusterous.operations import clusters, lease

    if hours is None and name is not None and _is_number(name):
        name, hours = None, name
    wanted = parse_hours(hours)
    handle = clusters.open_cluster(app.home, name, app.profile_override, renew=False)
    view = lease.extend(handle, wanted, yes)
    app.out.print(
        f"The lease of cluster [bold]{handle.name}[/bold] now ends in "
        f"{lease.duration_words(view.seconds_left or 0)}."
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_hours(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        hours = float(text)
    except ValueError:
        hours = -1.0
    if not 0 < hours < float("inf"):
        raise InputError(
            f"HOURS must be a number of hours greater than 0, got {text!r}",
            None,
            "for example: clusterous extend my-cluster 4",
        )
    return hours
