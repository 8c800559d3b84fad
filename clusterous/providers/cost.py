"""What a running cluster costs: rates a provider reads, turned into money by the clock.

A provider says what bills now (``Rate``: so many instances, GiB or bytes, at
a unit price, each amount since the moment it began to bill: an instance's
launch, a volume's creation, an object's upload) and where each price came
from. This module does the arithmetic only, with the time passed in, so a
test can put the clock two hours after a launch: per hour is the sum of the
rates, so far is each rate times the hours since each start. A price that is
unknown stays unknown (None) up to the totals, never a guess.

``bills_when_stopped`` marks what a stopped cluster still pays for (disks,
stored images), so a caller can drop the rest (``while_stopped``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

HOURS_PER_MONTH = 730  # how AWS turns a GB-month price into an hourly one
CURRENCY = "USD"
PRICE_UNKNOWN = "price unknown"


@dataclass(frozen=True)
class Use:
    """An amount of something billed (1 instance, 100 GiB), billed since ``since`` (epoch s)."""

    amount: float
    since: float  # 0: not known


@dataclass(frozen=True)
class Rate:
    """One line of what bills: a unit price and the uses it applies to."""

    what: str  # "t3.small on demand", "shared volume (gp3)"
    kind: str  # instance | address | disk | storage | local
    unit: str  # what the price is per: "instance-hour", "GiB-month", "address-hour"
    unit_price: float | None  # USD per unit; None: unknown, never guessed
    source: str  # where the price came from, or "price unknown"
    uses: tuple[Use, ...] = ()
    bills_when_stopped: bool = False

    @property
    def quantity(self) -> float:
        return sum(u.amount for u in self.uses)

    @property
    def unit_hourly(self) -> float | None:
        """The unit price per hour: a per-month price spread over 730 hours."""
        if self.unit_price is None:
            return None
        monthly = self.unit.endswith("-month")
        return self.unit_price / HOURS_PER_MONTH if monthly else self.unit_price


@dataclass(frozen=True)
class PricedLine:
    """A rate priced at one moment: what it costs per hour now, and since it began."""

    what: str
    kind: str
    quantity: float
    unit: str
    unit_price: float | None
    source: str
    per_hour: float | None
    so_far: float | None


@dataclass(frozen=True)
class CostReport:
    """Every line, and the totals (None when any line's price is unknown)."""

    lines: list[PricedLine] = field(default_factory=list)
    per_hour: float | None = 0.0
    so_far: float | None = 0.0
    currency: str = CURRENCY
    at: float = 0.0  # the moment it was computed, epoch seconds


def per_hour(rate: Rate) -> float | None:
    """The whole line per hour; nothing billed (no use) costs 0 even at an unknown price."""
    hourly = rate.unit_hourly
    if rate.quantity == 0:
        return 0.0
    return None if hourly is None else hourly * rate.quantity


def so_far(rate: Rate, now: float) -> float | None:
    """The rate times the hours each use has billed until ``now`` (none before it began)."""
    hourly = rate.unit_hourly
    if rate.quantity == 0:
        return 0.0
    if hourly is None or any(u.since <= 0 for u in rate.uses):
        return None
    return hourly * sum(u.amount * max(0.0, now - u.since) / 3600 for u in rate.uses)


def priced(rate: Rate, now: float) -> PricedLine:
    return PricedLine(
        rate.what,
        rate.kind,
        rate.quantity,
        rate.unit,
        rate.unit_price,
        rate.source,
        per_hour(rate),
        so_far(rate, now),
    )


def cost_report(rates: Sequence[Rate], now: float) -> CostReport:
    lines = [priced(r, now) for r in rates]
    return CostReport(
        lines, total([c.per_hour for c in lines]), total([c.so_far for c in lines]), at=now
    )


def total(amounts: Sequence[float | None]) -> float | None:
    return None if None in amounts else sum(a for a in amounts if a is not None)


def while_stopped(rates: Sequence[Rate]) -> list[Rate]:
    """The rates that still bill once the instances are stopped: disks and stored images."""
    return [r for r in rates if r.bills_when_stopped]


def dashboard_record(report: CostReport) -> dict[str, Any]:
    """What the controller keeps for the dashboard (/etc/clusterous/cost.json)."""
    return {
        "total": rounded(report.so_far),
        "per_hour": rounded(report.per_hour),
        "currency": report.currency,
        "at": utc_words(report.at, "%Y-%m-%dT%H:%M:%SZ"),
    }


def rounded(amount: float | None) -> float | None:
    return None if amount is None else round(amount, 4)


def utc_words(moment: float, layout: str = "%H:%M UTC") -> str:
    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime(layout)
