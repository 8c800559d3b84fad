"""Showing things to people: progress of long work, tables, verdicts."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table


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
