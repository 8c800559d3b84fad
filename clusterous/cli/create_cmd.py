"""``clusterous create``: plan a cluster, show it, make it."""

from __future__ import annotations

from pathlib import Path

import click

from clusterous.cli.compat import accepts_1_0
from clusterous.cli.context import App, pass_app
from clusterous.cli.render import (
    ConsoleReporter,
    lease_cost_words,
    lease_words,
    plan_table,
    run_summary,
)


@click.command()
@accepts_1_0("create")
@click.argument("profile_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", help="Cluster name (default: the profile's, or 'my-cluster').")
@click.option("--workers", type=int, help="Number of workers (size of the 'worker' group).")
@click.option("--provider", type=click.Choice(["local", "aws"]), help="Override the provider.")
@click.option("--dry-run", is_flag=True, help="Show the plan and create nothing.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=600,
    show_default=True,
    help="Seconds to wait for every node to be ready.",
)
@click.option(
    "--max-hours",
    type=click.FloatRange(min=0),
    metavar="HOURS",
    help="The lease: the cluster ends itself after HOURS without a command "
    "(default: the profile's max_hours, else 8 on AWS, none locally; 0: none).",
)
@click.option(
    "--idle-minutes",
    type=click.IntRange(min=0),
    default=0,
    metavar="M",
    help="End the cluster after M minutes with no service task running and no SSH session.",
)
@click.option("--keep-on-failure", is_flag=True, help="Keep what was made if create fails.")
@click.option(
    "--skip-environment",
    is_flag=True,
    help="Do not run the profile's environment_file after create.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def create(
    app: App,
    profile_file: Path | None,
    name: str | None,
    workers: int | None,
    provider: str | None,
    dry_run: bool,
    timeout: float,
    max_hours: float | None,
    idle_minutes: int,
    keep_on_failure: bool,
    skip_environment: bool,
    yes: bool,
) -> None:
    """Create a cluster, from PROFILE_FILE or the default (1 master, N workers)."""
    from clusterous.operations import clusters

    request = clusters.CreateRequest(
        profile_file, name, workers, provider, max_hours, idle_minutes, yes
    )
    planned = clusters.plan_create(app.home, app.profile_override, request)
    if max_hours == 0:
        app.warn("--max-hours 0: no lease; the cluster runs (and bills) until you destroy it")
    if dry_run:
        app.out.print(plan_table(planned, dry_run=True))
        app.out.print(f"  {lease_words(planned.plan.max_hours, planned.plan.idle_minutes)}")
        if (bound := lease_cost_words(planned)) is not None:
            app.out.print(f"  {bound}")
        for line in planned.resources:
            app.out.print(f"  {line}")
        if planned.plan.environment_file is not None:
            app.out.print(environment_line(planned.plan.environment_file, skip_environment))
        app.out.print("Dry run: nothing was created.")
        return
    app.err.print(plan_table(planned, dry_run=False))
    app.err.print(f"  {lease_words(planned.plan.max_hours, planned.plan.idle_minutes)}")
    if (bound := lease_cost_words(planned)) is not None:
        app.err.print(f"  {bound}")
    if planned.asks_first and not yes:
        click.confirm("Create this cluster?", abort=True)
    reporter = ConsoleReporter(app.err, app.verbose)
    options = clusters.CreateOptions(timeout, keep_on_failure)
    created = clusters.create(
        app.home, planned, reporter, options, app.profile_override, not skip_environment
    )
    state = created.state
    app.out.print(
        f"Cluster [bold]{state.name}[/bold] is ready with {len(state.nodes)} nodes "
        f"({reporter.elapsed():.1f} s)."
    )
    app.out.print(
        "Next: 'clusterous status' · 'clusterous ssh' · 'clusterous add-nodes 1' · "
        f"'clusterous destroy {state.name}'"
    )
    if skip_environment and planned.plan.environment_file is not None:
        app.out.print(environment_line(planned.plan.environment_file, skip_environment))
    if created.environment is not None:
        for line in run_summary(created.environment, reporter.elapsed()):
            app.out.print(line)


def environment_line(environment_file: Path, skipped: bool) -> str:
    if skipped:
        return (
            f"  environment: {environment_file} not run (--skip-environment); "
            f"run it with 'clusterous run {environment_file}'"
        )
    return f"  environment: {environment_file}, run once the cluster is ready"
