"""``clusterous submit``: queue a command, or an array of them, as a batch job on the cluster."""

from __future__ import annotations

from pathlib import Path

import click

from clusterous.cli.context import App, pass_app
from clusterous.errors import InputError


@click.command(context_settings={"ignore_unknown_options": False})
@click.argument("command", nargs=-1, required=False)
@click.option("--array", metavar="A-B", help="Run the command once per index, e.g. 1-1000.")
@click.option("--cpus", type=float, help="CPUs reserved for each task (Swarm queues the rest).")
@click.option("--memory", metavar="SIZE", help='Memory reserved for each task, e.g. "2g".')
@click.option("--group", help="Node group that runs the tasks (default: 'worker').")
@click.option("--workdir", metavar="DIR", help="Working directory, on the shared volume /data.")
@click.option("--env", "env", multiple=True, metavar="NAME=VALUE", help="Set a variable.")
@click.option("--name", help="A name for the job (its id is printed).")
@click.option("--image", help="Image (default: debian:bookworm-slim), e.g. from build-image.")
@click.option("--retries", type=int, default=0, show_default=True, help="Re-runs of a failed task.")
@click.option(
    "--file",
    "job_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Submit the jobs of a job file (or of an environment file's 'jobs:').",
)
@click.option("--cluster", help="Cluster name (default: current).")
@pass_app
def submit(
    app: App,
    command: tuple[str, ...],
    array: str | None,
    cpus: float | None,
    memory: str | None,
    group: str | None,
    workdir: str | None,
    env: tuple[str, ...],
    name: str | None,
    image: str | None,
    retries: int,
    job_file: Path | None,
    cluster: str | None,
) -> None:
    """Queue COMMAND as a batch job ({i} is the array index); print its id and return."""
    from clusterous.operations import jobs
    from clusterous.operations.handle import open_cluster

    if job_file is not None and command:
        raise InputError(
            "give a COMMAND or --file, not both", None, "put the command in the file's job"
        )
    if job_file is not None:
        requests = jobs.load_file(job_file)
    else:
        requests = [
            jobs.request_from_options(
                command, array, cpus, memory, group, workdir, env, name, image, retries
            )
        ]
    handle = open_cluster(app.home, cluster, app.profile_override, app.warn)
    for done in jobs.submit_all(handle, requests, lambda line: app.err.print(f"[dim]{line}[/dim]")):
        click.echo(done.job_id)
        app.err.print(
            f"[dim]{done.tasks} task(s) of {done.image} queued on group {done.group}; "
            f"follow with 'clusterous jobs wait {done.job_id}'[/dim]"
        )
