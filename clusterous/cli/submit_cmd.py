"""``clusterous submit``: queue a command, or an array of them, as a batch job on the cluster."""

from __future__ import annotations

import click

from clusterous.cli.context import App, pass_app


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
    cluster: str | None,
) -> None:
    """Queue COMMAND as a batch job ({i} is the array index); print its id and return."""
    from clusterous.operations import jobs
    from clusterous.operations.handle import open_cluster

    request = jobs.request_from_options(
        command, array, cpus, memory, group, workdir, env, name, image, retries
    )
    handle = open_cluster(app.home, cluster, app.profile_override, app.warn)
    done = jobs.submit(handle, request)
    click.echo(done.job_id)
    app.err.print(
        f"[dim]{done.tasks} task(s) of {done.image} queued on group {done.group}; "
        f"follow with 'clusterous jobs wait {done.job_id}'[/dim]"
    )
