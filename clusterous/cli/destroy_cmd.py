"""``clusterous destroy``: remove a cluster and prove nothing of it is left."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from clusterous.cli.compat import accepts_1_0
from clusterous.cli.context import App, pass_app
from clusterous.cli.render import ConsoleReporter
from clusterous.errors import InputError

if TYPE_CHECKING:
    from clusterous.operations.teardown import VolumeQuestion


@click.command()
@accepts_1_0("destroy")
@click.argument("name", required=False)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--keep-volume", is_flag=True, help="Keep the shared volume and its files.")
@click.option("--delete-volume", is_flag=True, help="Delete the shared volume without asking.")
@click.option(
    "--keep-images",
    is_flag=True,
    help="Keep the registry's images (AWS: its S3 prefix), listed with their size.",
)
@click.option(
    "--region",
    metavar="REGION",
    help="AWS: destroy what cluster NAME left in REGION (see 'ls-clusters --all-regions').",
)
@click.option(
    "--force",
    is_flag=True,
    help="Destroy even what another create of this name made (another ownership id).",
)
@pass_app
def destroy(
    app: App,
    name: str | None,
    yes: bool,
    keep_volume: bool,
    delete_volume: bool,
    keep_images: bool,
    region: str | None,
    force: bool,
) -> None:
    """Destroy cluster NAME (default: the current one), leaving nothing behind."""
    from clusterous.operations import teardown

    if keep_volume and delete_volume:
        raise InputError("--keep-volume and --delete-volume contradict each other")
    target = teardown.target(app.home, name)
    if not (keep_volume or delete_volume):
        question = teardown.volume_question(app.home, target, app.profile_override, region)
        keep_volume = question is not None and ask_keep_volume(target, question)
    if not yes:
        confirm_destroy(target, keep_volume)
    reporter = ConsoleReporter(app.err, app.verbose)
    done = teardown.destroy(
        app.home, target, app.profile_override, keep_volume, reporter, force, keep_images, region
    )
    for kept in done.kept:
        app.out.print(f"Kept: {kept}")
    if not done.removed and not done.kept:
        app.out.print(f"Nothing to destroy: no trace of cluster '{done.name}' is left.")
    elif done.kept:
        app.out.print(
            f"Cluster [bold]{done.name}[/bold] destroyed: nothing billable left but what "
            f"was kept above ({reporter.elapsed():.1f} s)."
        )
    else:
        app.out.print(
            f"Cluster [bold]{done.name}[/bold] destroyed: nothing of it is left, "
            f"nothing billable left ({reporter.elapsed():.1f} s)."
        )


def ask_keep_volume(name: str, question: VolumeQuestion) -> bool:
    """Keep or delete the shared volume: the user's files are in it.

    Without a terminal, a volume that costs nothing to keep (local) is kept;
    one that costs money (AWS) needs --keep-volume or --delete-volume.
    """
    if not sys.stdin.isatty():
        if question.free_to_keep:
            return True
        raise InputError(
            f"destroying cluster {name!r}: keep or delete its shared volume {question.volume}?",
            "there is no terminal to ask on",
            f"add --keep-volume or --delete-volume: 'clusterous destroy {name} --yes "
            "--delete-volume'",
        )
    cost = "its files stay" if question.free_to_keep else "its files stay, and so does its cost"
    return click.confirm(
        f"Keep the shared volume {question.volume} of cluster '{name}' ({cost})?",
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
