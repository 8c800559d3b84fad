"""``clusterous create``: plan a cluster, show it, make it."""

from __future__ import annotations

from pathlib import Path

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import ConsoleReporter, table


@click.command()
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
@click.option("--keep-on-failure", is_flag=True, help="Keep what was made if create fails.")
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
    keep_on_failure: bool,
    yes: bool,
) -> None:
    """Create a cluster, from PROFILE_FILE or the default (1 master, N workers)."""
    from clusterous.manager import service
    from clusterous.manager.create import CreateOptions

    request = service.CreateRequest(profile_file, name, workers, provider)
    plan, chosen = service.plan_create(app.home, app.profile_override, request)
    title = f"Plan for cluster '{plan.name}' ({plan.provider})"
    if dry_run:
        columns = ["group", "type", "count", "image", "price"]
        app.out.print(table(title, columns, plan.priced_rows(chosen)))
        for line in chosen.describe_resources(plan.shared_volume_size, plan.shared_volume_id):
            app.out.print(f"  {line}")
        app.out.print("Dry run: nothing was created.")
        return
    columns = ["group", "type", "count", "size", "price"]
    app.err.print(table(title, columns, plan.rows(chosen)))
    if plan.provider != "local" and not yes:
        click.confirm("Create this cluster?", abort=True)
    reporter = ConsoleReporter(app.err, app.verbose)
    state = service.create(
        app.home, plan, chosen, reporter, CreateOptions(timeout, keep_on_failure)
    )
    app.out.print(
        f"Cluster [bold]{state.name}[/bold] is ready with {len(state.nodes)} nodes "
        f"({reporter.elapsed():.1f} s)."
    )
    app.out.print(
        "Next: 'clusterous status' · 'clusterous ssh' · 'clusterous add-nodes 1' · "
        f"'clusterous destroy {state.name}'"
    )
    if plan.environment_file:
        from clusterous.cli.run_cmd import run_environment

        app.out.print(f"Running the profile's environment {plan.environment_file}.")
        handle = service.open_cluster(app.home, state.name, app.profile_override)
        run_environment(app, handle, plan.environment_file, timeout)
