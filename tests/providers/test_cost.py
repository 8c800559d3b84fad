"""The cost arithmetic: rates times the hours since each start, at a given moment (no clock)."""

from __future__ import annotations

import pytest

from clusterous.providers.cost import (
    HOURS_PER_MONTH,
    Rate,
    Use,
    cost_report,
    dashboard_record,
    per_hour,
    so_far,
    while_stopped,
)
from tests.fakes import FakeClock

LAUNCH = 1_700_000_000.0
HOUR = 3600.0


def instances(price: float | None, *starts: float) -> Rate:
    uses = tuple(Use(1, s) for s in starts)
    return Rate("t3.small on demand", "instance", "instance-hour", price, "test", uses)


def test_three_instances_two_hours_after_launch_cost_six_instance_hours() -> None:
    clock = FakeClock(LAUNCH)
    rate = instances(0.0208, LAUNCH, LAUNCH, LAUNCH)
    clock.sleep(2 * HOUR)
    assert per_hour(rate) == pytest.approx(0.0624)
    assert so_far(rate, clock()) == pytest.approx(0.1248)


def test_each_instance_counts_from_its_own_launch() -> None:
    rate = instances(0.10, LAUNCH, LAUNCH + HOUR)  # the second added an hour later
    assert so_far(rate, LAUNCH + 3 * HOUR) == pytest.approx(0.10 * (3 + 2))
    assert so_far(rate, LAUNCH + 0.5 * HOUR) == pytest.approx(0.05)  # none before its launch


def test_a_gb_month_price_is_spread_over_730_hours() -> None:
    volume = Rate("shared volume (gp3)", "disk", "GiB-month", 0.08, "t", (Use(100, LAUNCH),), True)
    assert per_hour(volume) == pytest.approx(100 * 0.08 / HOURS_PER_MONTH)
    assert so_far(volume, LAUNCH + 730 * HOUR) == pytest.approx(8.0)


def test_an_unknown_price_stays_unknown_up_to_the_totals_never_a_guess() -> None:
    known = instances(0.0208, LAUNCH)
    unknown = Rate("registry images", "storage", "GiB-month", None, "price unknown", (Use(2, 1),))
    report = cost_report([known, unknown], LAUNCH + HOUR)
    assert [line.per_hour for line in report.lines] == [pytest.approx(0.0208), None]
    assert report.per_hour is None and report.so_far is None
    assert dashboard_record(report)["total"] is None


def test_nothing_used_costs_nothing_even_at_an_unknown_price() -> None:
    empty = Rate("registry images", "storage", "GiB-month", None, "price unknown", ())
    report = cost_report([instances(0.01, LAUNCH), empty], LAUNCH + HOUR)
    assert report.per_hour == pytest.approx(0.01) and report.so_far == pytest.approx(0.01)


def test_an_unknown_start_makes_so_far_unknown_but_not_the_hourly_rate() -> None:
    rate = instances(0.01, 0.0)
    assert per_hour(rate) == pytest.approx(0.01) and so_far(rate, LAUNCH) is None


def test_a_stopped_cluster_keeps_only_the_lines_that_bill_while_stopped() -> None:
    disk = Rate("root disks (gp3)", "disk", "GiB-month", 0.08, "t", (Use(20, LAUNCH),), True)
    address = Rate("public IPv4", "address", "address-hour", 0.005, "t", (Use(1, LAUNCH),))
    assert while_stopped([instances(0.01, LAUNCH), disk, address]) == [disk]


def test_the_dashboard_record_has_totals_currency_and_the_moment_in_utc() -> None:
    report = cost_report([instances(0.0208, LAUNCH, LAUNCH, LAUNCH)], LAUNCH + 2 * HOUR)
    assert dashboard_record(report) == {
        "total": 0.1248,
        "per_hour": 0.0624,
        "currency": "USD",
        "at": "2023-11-15T00:13:20Z",
    }


def test_each_aws_line_says_where_its_price_came_from() -> None:
    from clusterous.aws.pricing import Quote
    from clusterous.providers.aws.meter import moment_words, quote_source

    assert quote_source(Quote(0.0208), "eu-west-1") == "AWS Price List, eu-west-1"
    assert quote_source(Quote(0.0208, LAUNCH), "eu-west-1") == "cached price list, 2023-11-14"
    assert quote_source(Quote(None), "eu-west-1") == "price unknown"
    assert moment_words(LAUNCH, LAUNCH + 60) == "22:13 UTC"
    assert moment_words(LAUNCH, LAUNCH + 2 * 86400) == "2023-11-14 22:13 UTC"
