"""``clusterous destroy``: remove a cluster and prove nothing of it is left."""

from __future__ import annotations

import sys

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import ConsoleReporter
from clusterous.errors import ClusterousError, InputError


@click.command()
@click.argument("name", required=False)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--keep-volume", is_flag=True, help="Keep the shared volume and its files.")
@click.option("--delete-volume", is_flag=True, help="Delete the shared volume without asking.")
@pass_app
def destroy(app: App, name: str | None, yes: bool, keep_volume: bool, delete_volume: bool) -> None:
    """Destroy cluster NAME (default: the current one), leaving nothing behind."""
    from clusterous.manager import service
    from clusterous.manager.current import resolve_cluster_name

    if keep_volume and delete_volume:
        raise InputError("--keep-volume and --delete-volume contradict each other")
    target = name or resolve_cluster_name(app.home, None)
    if not (keep_volume or delete_volume):
        volume = service.volume_question(app.home, target, app.profile_override)
        keep_volume = volume is not None and ask_keep_volume(target, volume)
    if not yes:
        confirm_destroy(target, keep_volume)
    reporter = ConsoleReporter(app.err, app.verbose)
    destroyed, report = service.destroy(
        app.home, target, app.profile_override, keep_volume, reporter
    )
    for kept in report.kept:
        app.out.print(f"Kept: {kept}")
    if report.leftovers:
        left = ", ".join(f"{x.kind} {x.id}" for x in report.leftovers)
        raise ClusterousError(
            f"cluster {destroyed!r} is not entirely gone",
            f"left: {left}",
            f"run 'clusterous destroy {destroyed}' again",
        )
    if not report.removed and not report.kept:
        app.out.print(f"Nothing to destroy: no trace of cluster '{destroyed}' is left.")
        return
    if report.kept:
        app.out.print(
            f"Cluster [bold]{destroyed}[/bold] destroyed: nothing billable left but what "
            f"was kept above ({reporter.elapsed():.1f} s)."
        )
        return
    app.out.print(
        f"Cluster [bold]{destroyed}[/bold] destroyed: nothing of it is left, "
        f"nothing billable left ({reporter.elapsed():.1f} s)."
    )


def ask_keep_volume(name: str, volume: str) -> bool:
    """Keep or delete the shared volume: the user's files are in it."""
    if not sys.stdin.isatty():
        raise InputError(
            f"destroying cluster {name!r}: keep or delete its shared volume {volume}?",
            "there is no terminal to ask on",
            f"add --keep-volume or --delete-volume: 'clusterous destroy {name} --yes "
            "--delete-volume'",
        )
    return click.confirm(
        f"Keep the shared volume {volume} of cluster '{name}' (its files stay, and so does "
        "its cost)?",
        default=False,
    )


def confirm_destroy(name: str, keep_volume: bool) -> None:
    if not sys.stdin.isatty():
        raise InputError(
            f"destroying cluster {name!r} needs confirmation",
            "there is no terminal to ask on",
            f"add --yes: 'clusterous destroy {name} --yes'",
        )
    volume = "keeping" if keep_volume else "deleting"
    click.confirm(f"Destroy cluster '{name}', {volume} its shared volume?", abort=True)
