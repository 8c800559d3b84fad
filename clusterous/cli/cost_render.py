"""Showing a cluster's cost in ``status``: a line per rate, its price's source, the totals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clusterous.cli.render import size, table

if TYPE_CHECKING:
    from rich.table import Table

    from clusterous.operations.clusters import CostReport

GIB = 1024**3


def cost_table(report: CostReport) -> Table | str:
    """The cost so far and per hour; a local cluster's one line when nothing bills."""
    if report.lines and all(line.kind == "local" for line in report.lines):
        return f"Cost: {report.lines[0].what} (local provider)"
    rows = [
        (
            line.what,
            _quantity(line.quantity, line.unit),
            _unit_price(line.unit_price, line.unit),
            _money(line.per_hour),
            _money(line.so_far),
            line.source,
        )
        for line in report.lines
    ]
    rows.append(("total", "", "", _money(report.per_hour), _money(report.so_far), ""))
    columns = ["cost", "quantity", "unit price", "per hour", "so far", "price from"]
    return table("Cost so far and per hour (USD)", columns, rows)


def _quantity(quantity: float, unit: str) -> str:
    if unit.startswith("GiB"):
        return size(round(quantity * GIB))
    return f"{quantity:g}"


def _unit_price(price: float | None, unit: str) -> str:
    """``$0.0208/h`` an instance or address, ``$0.0800/GiB-mo`` a disk."""
    if price is None:
        return "unknown"
    return f"${price:.4f}/GiB-mo" if unit.endswith("month") else f"${price:.4f}/h"


def _money(amount: float | None) -> str:
    return "unknown" if amount is None else f"${amount:.4f}"
