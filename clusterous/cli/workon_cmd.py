"""``clusterous workon`` and ``clusterous ls-clusters``: choose and find clusters."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from clusterous.cli.context import App, pass_app
from clusterous.cli.render import ConsoleReporter, table

if TYPE_CHECKING:
    from clusterous.operations.forgotten import Finding, Forgotten


@click.command()
@click.argument("name")
@pass_app
def workon(app: App, name: str) -> None:
    """Make NAME the current cluster; rebuild its local files from the cluster if lost."""
    from clusterous.operations import clusters

    state = clusters.workon(
        app.home, name, app.profile_override, ConsoleReporter(app.err, app.verbose).warn
    )
    app.out.print(f"Working on cluster [bold]{state.name}[/bold] ({len(state.nodes)} nodes).")


@click.command("ls-clusters")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")
@click.option(
    "--all-regions",
    is_flag=True,
    help="AWS: list what clusterous made in every region, with its monthly price and the "
    "command that removes it.",
)
@pass_app
def ls_clusters(app: App, as_json: bool, all_regions: bool) -> None:
    """List the clusters on this machine and those found by label with the profile."""
    from clusterous.operations import clusters

    if all_regions:
        show_forgotten(app, as_json)
        return
    found = clusters.list_clusters(app.home, app.profile_override)
    if as_json:
        click.echo(json.dumps([asdict(c) for c in found], indent=2))
        return
    if not found:
        app.out.print("No clusters. Create one with 'clusterous create'.")
        return
    rows = [("*" if c.current else "", c.name, c.provider, c.status, c.nodes) for c in found]
    app.out.print(table(None, ["", "name", "provider", "status", "nodes"], rows))


def show_forgotten(app: App, as_json: bool) -> None:
    """Every region's clusterous things: each leftover with its price and remover, then the
    live clusters, one line each."""
    from clusterous.operations.forgotten import find_forgotten

    reporter = ConsoleReporter(app.err, app.verbose)
    found = find_forgotten(app.home, app.profile_override, reporter.info)
    if as_json:
        click.echo(json.dumps(forgotten_json(found), indent=2))
        return
    for where, why in sorted(found.skipped.items()):
        reporter.warn(f"skipped {where}: {why}")
    lines = [*leftover_lines(found), *live_lines(found), leftover_summary(found)]
    for line in lines:
        app.out.print(line, markup=False, highlight=False, soft_wrap=True)


def leftover_lines(found: Forgotten) -> list[str]:
    lines = []
    for f in found.leftovers:
        lines.append(
            f"LEFTOVER  {f.region}  {f.cluster or '(no cluster)'}  {f.kind} {f.id}  "
            f"{f.what}  {monthly(f.monthly_usd)} a month"
        )
        lines.append(f"  remove: {f.remove_with}")
    return lines


def live_lines(found: Forgotten) -> list[str]:
    """One line per live cluster and region: how many things, what they cost together."""
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in found.findings:
        if f.live:
            groups.setdefault((f.cluster, f.region, f.remove_with), []).append(f)
    lines = []
    for (cluster, region, command), items in groups.items():
        kinds: dict[str, int] = {}
        for item in items:
            kinds[item.kind] = kinds.get(item.kind, 0) + 1
        counted = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        known = sum(i.monthly_usd or 0.0 for i in items)
        unknown = sum(1 for i in items if i.monthly_usd is None)
        more = f" + {unknown} of unknown price" if unknown else ""
        lines.append(
            f"live      {region}  {cluster}  {counted}  about {monthly(known)} a month{more}"
        )
        lines.append(f"  remove: {command}")
    return lines


def monthly(usd: float | None) -> str:
    return "price unknown" if usd is None else f"${usd:,.2f}"


def leftover_summary(found: Forgotten) -> str:
    left = found.leftovers
    if not found.findings:
        return f"Nothing of clusterous in {len(found.regions)} regions."
    if not left:
        return "No leftovers: everything found belongs to a cluster on this machine."
    unknown = f", and {found.unpriced} of unknown price" if found.unpriced else ""
    return (
        f"{len(left)} leftover(s), about {monthly(found.leftover_monthly_usd)} a month{unknown} "
        "(estimates: on-demand prices, gp3/gp2 and S3 Standard by the GB-month)."
    )


def forgotten_json(found: Forgotten) -> dict[str, object]:
    return {
        "regions": found.regions,
        "skipped": found.skipped,
        "findings": [asdict(f) for f in found.findings],
        "leftover_monthly_usd": round(found.leftover_monthly_usd, 4),
        "leftovers_of_unknown_price": found.unpriced,
    }
