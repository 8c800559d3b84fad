"""status's cost on EC2 (moto): from the instances' launch times, the volumes, S3, the prices.

The Pricing API is the one mocked edge (moto has none): its answers are put in
the price cache through a botocore Stubber, as the dry run's tests do. Moto
answers spot price history itself (one price, 0.00001, for every zone).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clusterous.aws.pricing import PriceBook, product_filters, s3_filters, storage_filters
from clusterous.home import Home
from clusterous.manager.plan import GroupRequest
from clusterous.operations import clusters
from clusterous.operations.handle import open_cluster
from clusterous.providers.cost import HOURS_PER_MONTH
from tests.aws.provider_fixtures import (
    BUCKET,
    CLUSTER,
    REGION,
    Account,
    account,
    boto,
    cluster_instances,
    fault_server,
    faulty_aws,
    make_provider,
)
from tests.aws.test_aws_commands import no_internet
from tests.aws.test_aws_create import create

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws", "no_internet"]  # fixtures used by name

GROUPS = [GroupRequest("worker", "t3.small", 3), GroupRequest("cheap", "t3.micro", 1, spot=True)]
PRICES = {"t3.small": "0.0208", "t3.medium": "0.0416"}
GP3, S3_STANDARD = "0.08", "0.023"
MIB = 1024**2


def _product(usd: str, unit: str, begin: str | None = None) -> str:
    dimension: dict[str, Any] = {"unit": unit, "pricePerUnit": {"USD": usd}}
    if begin is not None:
        dimension["beginRange"] = begin
    return json.dumps(
        {"terms": {"OnDemand": {"T": {"priceDimensions": {begin or "D": dimension}}}}}
    )


def seed_prices(home: Path) -> None:
    """The Price List's answers, stubbed and cached: instance types, gp3, S3 Standard (tiered)."""
    from botocore.stub import Stubber

    client = boto("pricing", "us-east-1")
    book = PriceBook(lambda: client, REGION, Home(home).cache_dir)

    def asked(service: str, filters: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "ServiceCode": service,
            "Filters": filters,
            "FormatVersion": "aws_v1",
            "MaxResults": 10,
        }

    with Stubber(client) as stub:
        for name, usd in PRICES.items():
            answer = {"PriceList": [_product(usd, "Hrs")]}
            stub.add_response(
                "get_products", answer, asked("AmazonEC2", product_filters(name, REGION))
            )
            book.hourly(name)
        answer = {"PriceList": [_product(GP3, "GB-Mo")]}
        stub.add_response(
            "get_products", answer, asked("AmazonEC2", storage_filters("gp3", REGION))
        )
        book.gb_month("gp3")
        tiers = [_product(S3_STANDARD, "GB-Mo", "0"), _product("0.022", "GB-Mo", "51200")]
        stub.add_response(
            "get_products", {"PriceList": tiers}, asked("AmazonS3", s3_filters(REGION))
        )
        assert book.s3_standard_quote().usd == pytest.approx(0.023)
        stub.assert_no_pending_responses()


def _launches() -> dict[str, float]:
    return {i["InstanceType"]: i["LaunchTime"].timestamp() for i in cluster_instances()}


def _lines(shown: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["what"]: line for line in shown["lines"]}


def test_status_json_shows_the_cost_from_launch_times_and_the_stubbed_prices(
    account: Account, clusterous_home: Path, no_internet: None
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile), GROUPS)
    boto("s3").put_object(Bucket=BUCKET, Key=f"clusterous/{CLUSTER}/blob", Body=b"x" * MIB)
    seed_prices(clusterous_home)
    launched = _launches()
    now = launched["t3.small"] + 2 * 3600  # the injected clock: 2 h after the workers' launch

    handle = open_cluster(Home(clusterous_home), CLUSTER, None, renew=False)
    cost = json.loads(json.dumps(clusters.status(handle, now=now).to_dict()))["cost"]

    lines = _lines(cost)
    workers = lines["t3.small on demand"]
    assert (workers["quantity"], workers["unit_price"]) == (3, pytest.approx(0.0208))
    assert workers["per_hour"] == pytest.approx(0.0624)
    assert workers["so_far"] == pytest.approx(0.1248)
    assert workers["source"] == "cached price list, " + _day(now)
    controller = lines["t3.medium on demand"]
    assert controller["so_far"] == pytest.approx(0.0416 * (now - launched["t3.medium"]) / 3600)
    (spot,) = [line for what, line in lines.items() if what.startswith("t3.micro spot")]
    assert spot["unit_price"] == pytest.approx(0.00001)  # moto's spot price history
    assert spot["source"].startswith("spot price at 2006-01-02 15:04 UTC")
    shared = lines["shared volume (gp3)"]
    assert shared["quantity"] == 10 and shared["per_hour"] == pytest.approx(10 * 0.08 / 730)
    roots = lines["root disks (gp3)"]
    assert roots["quantity"] == 5 * 20 and roots["kind"] == "disk"
    addresses = lines["public IPv4"]
    assert (addresses["quantity"], addresses["per_hour"]) == (5, pytest.approx(0.025))
    (images,) = [line for what, line in lines.items() if what == "registry images (S3)"]
    assert images["quantity"] == pytest.approx(1 / 1024)  # GiB
    assert images["unit_price"] == pytest.approx(0.023) and images["so_far"] >= 0
    assert cost["per_hour"] == pytest.approx(sum(line["per_hour"] for line in lines.values()))
    assert cost["so_far"] == pytest.approx(sum(line["so_far"] for line in lines.values()))


def test_status_shows_the_cost_lines_and_an_unknown_price_as_unknown(
    account: Account, clusterous_home: Path, cli_runner: Any, no_internet: None
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile), GROUPS[:1])
    result = cli_runner("status", CLUSTER)  # no price cached, and moto has no Pricing API
    assert result.exit_code == 0, result.output
    rows = result.stdout.split("Cost so far and per hour (USD)")[1].splitlines()
    assert any(row.startswith("t3.small on") and "│ 3 " in row and "unknown" in row for row in rows)
    assert any(row.startswith("public IPv4") and "$0.0050/h" in row for row in rows)
    assert any(row.startswith("total") and "unknown" in row for row in rows)
    printed = cli_runner("status", CLUSTER, "--json").stdout
    # moto's server, in this process, prints that it has no Pricing API before the JSON
    shown = json.loads(printed[printed.index("{") :])["cost"]
    assert shown["per_hour"] is None and shown["so_far"] is None
    assert _lines(shown)["public IPv4"]["per_hour"] == pytest.approx(4 * 0.005)


def _day(moment: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(moment, tz=timezone.utc).strftime("%Y-%m-%d")


assert HOURS_PER_MONTH == 730  # the figure the lines above divide by
