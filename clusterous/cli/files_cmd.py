"""``clusterous put``, ``get``, ``ls`` and ``rm``: files on the shared volume /data."""

from __future__ import annotations

import datetime
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import size, table

if TYPE_CHECKING:
    from clusterous.operations.components import SharedVolume

cluster_option = click.option("--cluster", help="Cluster name (default: current).")


def _volume(app: App, cluster: str | None) -> AbstractContextManager[SharedVolume]:
    from clusterous.operations import components
    from clusterous.operations.handle import open_cluster

    return components.volume(open_cluster(app.home, cluster, app.profile_override, app.warn))


@click.command()
@click.argument("local", type=click.Path(path_type=Path, exists=True))
@click.argument("remote", required=False)
@cluster_option
@pass_app
def put(app: App, local: Path, remote: str | None, cluster: str | None) -> None:
    """Copy LOCAL (a file or directory) to the shared volume, at REMOTE (default: /data)."""
    with _volume(app, cluster) as shared:
        done = shared.put(local, remote, lambda p: app.err.print(f"  {p}", markup=False))
    _warn_skipped(app, done.skipped)
    app.out.print(
        f"Sent {done.sent} file(s) ({size(done.bytes_sent)}), {done.unchanged} unchanged."
    )


@click.command()
@click.argument("remote")
@click.argument("local", type=click.Path(path_type=Path))
@cluster_option
@pass_app
def get(app: App, remote: str, local: Path, cluster: str | None) -> None:
    """Copy REMOTE (a file or directory under /data) to LOCAL."""
    with _volume(app, cluster) as shared:
        done = shared.get(remote, local, lambda p: app.err.print(f"  {p}", markup=False))
    _warn_skipped(app, done.skipped)
    app.out.print(f"Received {done.sent} file(s) ({size(done.bytes_sent)}).")


@click.command("ls")
@click.argument("remote", required=False)
@cluster_option
@pass_app
def ls(app: App, remote: str | None, cluster: str | None) -> None:
    """List REMOTE (default: /data) on the shared volume."""
    with _volume(app, cluster) as shared:
        entries = shared.ls(remote)
    rows = [
        (e.name + ("/" if e.is_dir else ""), "" if e.is_dir else size(e.size), _when(e.mtime))
        for e in entries
    ]
    app.out.print(table(None, ["name", "size", "modified"], rows))


@click.command("rm")
@click.argument("remote")
@cluster_option
@pass_app
def rm(app: App, remote: str, cluster: str | None) -> None:
    """Remove REMOTE (a file or a whole directory) from the shared volume."""
    with _volume(app, cluster) as shared:
        removed = shared.rm(remote)
    app.out.print(f"Removed {removed} entr{'y' if removed == 1 else 'ies'}.")


def _warn_skipped(app: App, skipped: list[str]) -> None:
    for warning in skipped:
        app.err.print("[yellow]![/yellow] warning: ", end="")
        app.err.print(warning, markup=False)


def _when(mtime: int) -> str:
    return datetime.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M")
