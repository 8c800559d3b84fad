"""``clusterous jobs``: list batch jobs; show, follow, wait for, cancel and retry one."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from clusterous.cancel import Cancelled
from clusterous.cli.context import App, pass_app

if TYPE_CHECKING:
    from clusterous.operations.handle import ClusterHandle
    from clusterous.operations.jobs import JobSummary

cluster_option = click.option("--cluster", help="Cluster name (default: current).")


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
@cluster_option
@click.pass_context
def jobs(ctx: click.Context, as_json: bool, cluster: str | None) -> None:
    """List the cluster's batch jobs with their task counts; show, wait, cancel, retry one."""
    if ctx.invoked_subcommand is not None:
        return
    from clusterous.cli.render import duration, table
    from clusterous.operations import jobs as use

    app: App = ctx.obj
    found = use.list_jobs(_open(app, cluster))
    if as_json:
        click.echo(json.dumps([summary_dict(s) for s in found], indent=2))
        return
    if not found:
        app.err.print("No jobs. Start one with 'clusterous submit -- COMMAND'.")
        return
    columns = ["JOB", "NAME", "PENDING", "RUNNING", "DONE", "FAILED", "ELAPSED", "COMMAND"]
    rows = [
        [s.job_id, s.name or "-", s.counts["pending"], s.counts["running"], s.counts["done"],
         s.counts["failed"] + s.counts["lost"], duration(s.elapsed), _short(s.command)]
        for s in found
    ]  # fmt: skip
    app.out.print(table(None, columns, rows))


def _short(command: str, width: int = 40) -> str:
    return command if len(command) <= width else command[: width - 1] + "…"


def summary_dict(summary: JobSummary) -> dict[str, object]:
    return {
        "id": summary.job_id,
        "name": summary.name,
        "command": summary.command,
        "image": summary.image,
        "group": summary.group,
        "submitted_at": summary.submitted_at,
        "rounds": summary.rounds,
        "tasks": summary.total,
        **summary.counts,
        "elapsed": round(summary.elapsed, 1),
        "finished": summary.finished,
    }


def _open(app: App, cluster: str | None) -> ClusterHandle:
    from clusterous.operations.handle import open_cluster

    return open_cluster(app.home, cluster, app.profile_override, app.warn)


@jobs.command()
@click.argument("job")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
@cluster_option
@pass_app
def show(app: App, job: str, as_json: bool, cluster: str | None) -> None:
    """Show each task of JOB: index, state, node, exit code, duration."""
    from clusterous.cli.render import duration, table
    from clusterous.operations import jobs as use

    detail = use.show(_open(app, cluster), job)
    if as_json:
        tasks = [
            {"index": r.index, "state": r.state, "node": r.node, "exit_code": r.exit_code,
             "duration": r.duration, "attempts": r.attempts, "round": r.round}
            for r in detail.rows
        ]  # fmt: skip
        click.echo(json.dumps({**summary_dict(detail.summary), "task_list": tasks}, indent=2))
        return
    rows = [
        [r.index, r.state, r.node or "-", "-" if r.exit_code is None else r.exit_code,
         "-" if r.duration is None else duration(r.duration), r.attempts or "-",
         r.error.split(" (")[0]]
        for r in detail.rows
    ]  # fmt: skip
    columns = ["INDEX", "STATE", "NODE", "EXIT", "DURATION", "ATTEMPTS", "NOTE"]
    app.out.print(table(_headline(detail.summary), columns, rows))


def _headline(summary: JobSummary) -> str:
    counts = ", ".join(f"{n} {state}" for state, n in summary.counts.items() if n)
    return f"{summary.job_id} {summary.name} ({counts}): {summary.command}"


@jobs.command()
@click.argument("job")
@click.option("--task", type=int, help="Only the output of this array index.")
@cluster_option
@pass_app
def logs(app: App, job: str, task: int | None, cluster: str | None) -> None:
    """Print the output of JOB's tasks (or of one task)."""
    from clusterous.operations import jobs as use

    use.logs(_open(app, cluster), job, task, click.echo)


@jobs.command("cancel")
@click.argument("job")
@cluster_option
@pass_app
def cancel_(app: App, job: str, cluster: str | None) -> None:
    """Stop JOB: running tasks are stopped, pending ones never start; it leaves the list."""
    from clusterous.operations import jobs as use

    removed = use.cancel_job(_open(app, cluster), job)
    app.out.print(f"Cancelled {job} ({len(removed)} service(s) removed).")


@jobs.command()
@click.argument("job")
@click.option("--failed", is_flag=True, required=True, help="Run the failed and lost tasks again.")
@cluster_option
@pass_app
def retry(app: App, job: str, failed: bool, cluster: str | None) -> None:
    """Run JOB's failed (and lost) tasks again, as part of the same job."""
    from clusterous.operations import jobs as use

    job_id, indices = use.retry_failed(_open(app, cluster), job)
    app.out.print(f"Retrying {len(indices)} task(s) of {job_id}: {use.compact(indices)}")


@jobs.command()
@click.argument("job")
@click.option(
    "--autoscale",
    "most",
    type=int,
    metavar="MAX",
    help="While tasks wait, add nodes to the job's group (up to MAX in it); "
    "remove them when idle after the job.",
)
@cluster_option
@pass_app
def wait(app: App, job: str, most: int | None, cluster: str | None) -> None:
    """Wait for JOB with a progress bar; exit 0 if every task is done, 1 if any failed."""
    from clusterous.cli.job_progress import ProgressBar
    from clusterous.cli.render import ConsoleReporter
    from clusterous.operations import job_scaling
    from clusterous.operations import jobs as use

    handle = _open(app, cluster)
    with ProgressBar(app.err) as bar:
        try:
            if most is None:
                summary = use.wait(handle, job, bar.update)
            else:
                reporter = ConsoleReporter(app.err, app.verbose)
                summary = job_scaling.wait_autoscaled(handle, job, most, reporter, bar.update)
        except (KeyboardInterrupt, Cancelled):
            bar.stop()
            app.err.print(f"Stopped waiting; {job} goes on ('clusterous jobs wait {job}').")
            raise click.exceptions.Exit(130) from None
    failed = summary.counts["failed"] + summary.counts["lost"]
    if failed:
        app.out.print(
            f"{summary.job_id}: {failed} of {summary.total} task(s) failed; "
            f"see 'clusterous jobs show {summary.job_id}', retry with "
            f"'clusterous jobs retry {summary.job_id} --failed'."
        )
        raise click.exceptions.Exit(1)
    app.out.print(f"{summary.job_id}: all {summary.total} task(s) done.")
