"""``clusterous build-image`` and ``clusterous image-info``: the cluster registry."""

from __future__ import annotations

import json
from pathlib import Path

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import size, table

cluster_option = click.option("--cluster", help="Cluster name (default: current).")


@click.command("build-image")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
@click.argument("name")
@cluster_option
@pass_app
def build_image(app: App, directory: Path, name: str, cluster: str | None) -> None:
    """Build DIRECTORY's Dockerfile on the controller; push it as registry:5000/NAME."""
    from clusterous.operations import components
    from clusterous.operations.handle import open_cluster

    handle = open_cluster(app.home, cluster, app.profile_override, app.warn)
    printer = (lambda line: app.err.print(line, markup=False)) if app.verbose else (lambda _: None)
    image = components.build_image(handle, directory, name, printer)
    app.out.print(f"Built and pushed {image}.")


@click.command("image-info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
@cluster_option
@pass_app
def image_info(app: App, name: str, as_json: bool, cluster: str | None) -> None:
    """Show what the cluster registry holds for image NAME (tags, digest, size, created)."""
    from clusterous.operations import components
    from clusterous.operations.handle import open_cluster

    info = components.image_info(
        open_cluster(app.home, cluster, app.profile_override, app.warn), name
    )
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
        return
    rows = [(t.tag, t.digest, size(t.size), t.created) for t in info.tags]
    app.out.print(table(info.name, ["tag", "digest", "size", "created"], rows))
