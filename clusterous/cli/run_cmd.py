"""``clusterous run``: start an environment file's application on the cluster."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import ConsoleReporter
from clusterous.errors import InputError

if TYPE_CHECKING:
    from clusterous.manager.service import ClusterHandle


@click.command()
@click.argument("env_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--cluster", help="Cluster name (default: current).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds to wait for every component to run.",
)
@click.option("--yes", "-y", is_flag=True, help="Replace a running environment without asking.")
@pass_app
def run(app: App, env_file: Path, cluster: str | None, timeout: float, yes: bool) -> None:
    """Run the application described by ENV_FILE: copy, build, deploy, open tunnels."""
    from clusterous.environments import service

    handle = service.cluster_for_run(app.home, cluster, app.profile_override, env_file)
    service.load(env_file)  # a bad file is refused before anything is asked or done
    current = service.running_environment(handle)
    if current and not yes:
        confirm_replace(current.name)
    run_environment(app, handle, env_file, timeout)


def run_environment(app: App, handle: ClusterHandle, env_file: Path, timeout: float) -> None:
    """Run and report; shared with ``create`` for a profile's environment_file."""
    from clusterous.environments import service

    reporter = ConsoleReporter(app.err, app.verbose)
    result = service.run(handle, env_file, reporter, timeout)
    app.out.print(
        f"Environment [bold]{result.environment}[/bold] is running: "
        f"{', '.join(result.components)} ({reporter.elapsed():.1f} s)."
    )
    for tunnel in result.tunnels:
        app.out.print(tunnel.rendered_message())
    app.out.print("Next: 'clusterous status' · 'clusterous logs COMPONENT' · 'clusterous quit'")


def confirm_replace(name: str) -> None:
    if not sys.stdin.isatty():
        raise InputError(
            f"environment {name!r} is running and would be replaced",
            "there is no terminal to ask on",
            "add --yes to replace it",
        )
    click.confirm(f"Environment '{name}' is running. Stop it and run this one?", abort=True)
