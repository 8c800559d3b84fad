"""``clusterous run``: start an environment file's application on the cluster."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import ConsoleReporter, run_summary
from clusterous.errors import InputError


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
    from clusterous.operations import environments

    handle = environments.cluster_for_run(app.home, cluster, app.profile_override, env_file)
    loaded = environments.load(env_file)  # a bad file is refused before anything is done
    current = environments.running_environment(handle)
    if current and not yes:
        confirm_replace(current.name)
    reporter = ConsoleReporter(app.err, app.verbose)
    result = environments.run(handle, env_file, reporter, timeout)
    for line in run_summary(result, reporter.elapsed()):
        app.out.print(line)
    if loaded.jobs:  # the file's batch jobs start once its components run
        from clusterous.operations import jobs

        for done in jobs.submit_all(handle, jobs.load_file(env_file)):
            app.out.print(f"Submitted job {done.job_id} ({done.tasks} task(s)).")


def confirm_replace(name: str) -> None:
    if not sys.stdin.isatty():
        raise InputError(
            f"environment {name!r} is running and would be replaced",
            "there is no terminal to ask on",
            "add --yes to replace it",
        )
    click.confirm(f"Environment '{name}' is running. Stop it and run this one?", abort=True)
