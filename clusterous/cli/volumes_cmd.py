"""``clusterous ls-volumes`` and ``rm-volume``: shared volumes kept after a destroy."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import table


@click.command("ls-volumes")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
@pass_app
def ls_volumes(app: App, as_json: bool) -> None:
    """List the shared volumes clusterous made with the profile (AWS region, or this machine)."""
    from clusterous.operations import volumes

    found = volumes.list_volumes(app.home, app.profile_override)
    if as_json:
        click.echo(json.dumps([asdict(v) for v in found], indent=2))
        return
    if not found:
        app.out.print("No shared volumes.")
        return
    rows = [
        (v.id, v.cluster, size(v.size_gib), v.zone, "kept" if v.kept else v.state) for v in found
    ]
    app.out.print(table(None, ["volume", "cluster", "size", "zone", "state"], rows))
    app.out.print("Delete one with 'clusterous rm-volume ID' (its files are lost).")


@click.command("rm-volume")
@click.argument("volume_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--region", metavar="REGION", help="AWS: the volume's region (default: the profile's)."
)
@pass_app
def rm_volume(app: App, volume_id: str, yes: bool, region: str | None) -> None:
    """Delete the kept shared volume VOLUME_ID and every file on it.

    On AWS it also deletes a root disk its instance left behind.
    """
    from clusterous.operations import volumes

    if not yes:
        click.confirm(f"Delete volume {volume_id} and every file on it?", abort=True)
    removed = volumes.remove_volume(app.home, app.profile_override, volume_id, region)
    app.out.print(
        f"Deleted volume {removed.id} ({size(removed.size_gib)}, cluster {removed.cluster})."
    )


def size(gib: int | None) -> str:
    return "-" if gib is None else f"{gib} GiB"
