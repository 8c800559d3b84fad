"""Showing things to people: progress of long work, tables, verdicts."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # rich is imported where something is drawn, so that a command's --help stays light.
    from rich.console import Console
    from rich.table import Table

    from clusterous.operations.clusters import PlannedCreate, PlannedGroup
    from clusterous.operations.environments import RunResult
    from clusterous.operations.lease import LeaseStatus


class ConsoleReporter:
    """The manager's Reporter, printing to the terminal (stderr, so --json stays clean)."""

    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _stamp(self) -> str:
        return f"[dim]{time.monotonic() - self.started:5.1f}s[/dim]"

    def step(self, text: str) -> None:
        self.console.print(f"{self._stamp()} [bold]…[/bold] {text}")

    def done(self, text: str) -> None:
        self.console.print(f"{self._stamp()} [green]✓[/green] {text}")

    def node(self, node: str, text: str) -> None:
        self.console.print(f"{self._stamp()}     [cyan]{node}[/cyan]: {text}")

    def info(self, text: str) -> None:
        self.console.print(f"{self._stamp()}     {text}")

    def warn(self, text: str) -> None:
        self.console.print(f"{self._stamp()} [yellow]![/yellow] {text}")

    def detail(self, text: str) -> None:
        if self.verbose:
            self.console.print(text, markup=False, style="dim")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    from rich.table import Table

    grid = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*(str(cell) for cell in row))
    return grid


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def size(nbytes: int) -> str:
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{nbytes} B"


def plan_table(planned: PlannedCreate, dry_run: bool) -> Table:
    """The plan: a line per group, then every other line that bills, then the total per hour.

    Sizes before a create, images on --dry-run. A spot group is shown as spot,
    at most its on-demand price; a price that cannot be had is "price unknown",
    and so is the total it is part of.
    """
    title = f"Plan for cluster '{planned.plan.name}' ({planned.plan.provider})"
    rows: list[tuple[object, ...]] = [
        (g.group, g.instance_type, g.count, g.image if dry_run else _node_size(g), _price(g))
        for g in planned.groups
    ]
    rows += [(c.what, c.amount, "", "", _hourly(c.hourly)) for c in planned.costs]
    nodes = sum(g.count for g in planned.groups)
    rows.append(("total", "", nodes, "", _hourly(planned.hourly_total)))
    columns = ["group", "type", "count", "image" if dry_run else "size", "price"]
    return table(title, columns, rows)


def lease_cost_words(planned: PlannedCreate) -> str | None:
    """``at most $3.12 for the 8 h lease``: what one lease can cost, the price known."""
    hours, total = planned.plan.max_hours, planned.hourly_total
    if total == 0:
        return None
    if hours <= 0:
        return "cost: no lease, so no bound: it bills until 'clusterous destroy'"
    if total is None:
        return f"cost for the {hours:g} h lease: price unknown"
    return f"cost: at most ${total * hours:.2f} for the {hours:g} h lease"


def _node_size(group: PlannedGroup) -> str:
    if group.cpus is None or group.memory_mib is None:
        return "?"
    return f"{group.cpus:g} CPU, {group.memory_mib / 1024:g} GiB"


def _price(group: PlannedGroup) -> str:
    line = None if group.hourly_price is None else group.hourly_price * group.count
    text = _hourly(line)
    if group.spot:
        text = f"spot ≤ {text}" if line else f"spot, {text}"  # on demand: spot's ceiling
    return text


def _hourly(price: float | None) -> str:
    if price is None:
        return "price unknown"
    return "free" if price == 0 else f"${price:.4f}/h"


def run_summary(result: RunResult, elapsed: float) -> list[str]:
    """What ``run`` (or a create with an environment file) prints when the application is up."""
    return [
        f"Environment [bold]{result.environment}[/bold] is running: "
        f"{', '.join(result.components)} ({elapsed:.1f} s).",
        *(tunnel.rendered_message() for tunnel in result.tunnels),
        "Next: 'clusterous status' · 'clusterous logs COMPONENT' · 'clusterous quit'",
    ]


def lease_words(max_hours: float, idle_minutes: int) -> str:
    """The lease of a plan, in one line."""
    if max_hours > 0:
        text = f"lease: the cluster ends itself {max_hours:g} h after the last command"
    else:
        text = "lease: none, the cluster runs until 'clusterous destroy'"
    if idle_minutes > 0:
        text += f"; idle stop after {idle_minutes} min"
    return text


def lease_status_words(lease: LeaseStatus) -> str:
    """``Lease: 7 h 58 min left (ends 18:04), ...`` for status."""
    if lease.max_hours <= 0:
        text = "Lease: none"
    elif lease.seconds_left is None:
        text = f"Lease: {lease.max_hours:g} h after the last command, time left unknown"
    else:
        ends = time.strftime("%a %H:%M", time.localtime(lease.ends_at))
        text = f"Lease: {duration(lease.seconds_left)} left (ends {ends}"
        text += ", last known)" if lease.source != "controller" else ")"
    if lease.idle_minutes > 0:
        if lease.idle_fires_in is None:
            text += f"; idle stop after {lease.idle_minutes} min idle"
        else:
            text += f"; idle stop fires in {duration(lease.idle_fires_in)} if nothing runs"
    return text
