"""Hourly prices from the Price List API (botocore Stubber: moto has no Pricing API), cached."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from clusterous.aws.ec2.catalog import SpotPrice, latest_spot_price
from clusterous.aws.pricing import (
    PriceBook,
    hourly_usd,
    product_filters,
    s3_filters,
    storage_filters,
    unit_usd,
)

pytestmark = pytest.mark.aws


def product(usd: str, unit: str = "Hrs") -> str:
    dimension = {"unit": unit, "pricePerUnit": {"USD": usd}}
    term = {"priceDimensions": {"SKU.TERM.DIM": dimension}}
    return json.dumps({"product": {"sku": "SKU"}, "terms": {"OnDemand": {"SKU.TERM": term}}})


@pytest.fixture
def pricing() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("pricing", region_name="us-east-1")
    with Stubber(client) as stub:
        yield client, stub


def expect(stub: Stubber, instance_type: str, answer: list[str]) -> None:
    stub.add_response(
        "get_products",
        {"PriceList": answer, "FormatVersion": "aws_v1"},
        {
            "ServiceCode": "AmazonEC2",
            "Filters": product_filters(instance_type, "eu-west-1"),
            "FormatVersion": "aws_v1",
            "MaxResults": 10,
        },
    )


def test_the_price_is_the_one_hourly_on_demand_price_and_is_cached(
    pricing: Any, tmp_path: Path
) -> None:
    client, stub = pricing
    expect(stub, "t3.medium", [product("0.0456000000")])
    now = [1000.0]
    book = PriceBook(lambda: client, "eu-west-1", tmp_path, clock=lambda: now[0])
    assert book.hourly("t3.medium") == pytest.approx(0.0456)
    now[0] += 3600
    assert book.hourly("t3.medium") == pytest.approx(0.0456)  # no second call: cached
    stub.assert_no_pending_responses()
    cached = json.loads((tmp_path / "aws-prices.json").read_text())
    assert cached["eu-west-1/t3.medium"]["usd"] == pytest.approx(0.0456)


def test_a_week_old_price_is_asked_again(pricing: Any, tmp_path: Path) -> None:
    client, stub = pricing
    expect(stub, "t3.medium", [product("0.0456")])
    expect(stub, "t3.medium", [product("0.0500")])
    now = [0.0]
    book = PriceBook(lambda: client, "eu-west-1", tmp_path, clock=lambda: now[0])
    assert book.hourly("t3.medium") == pytest.approx(0.0456)
    now[0] += 8 * 24 * 3600
    assert book.hourly("t3.medium") == pytest.approx(0.05)


def test_an_error_gives_price_unknown_and_nothing_is_cached(pricing: Any, tmp_path: Path) -> None:
    client, stub = pricing
    stub.add_client_error("get_products", "AccessDeniedException", "not allowed")
    book = PriceBook(lambda: client, "eu-west-1", tmp_path)
    assert book.hourly("t3.medium") is None
    assert not (tmp_path / "aws-prices.json").exists()


@pytest.mark.parametrize(
    "answer",
    [[], [product("0.04"), product("0.05")], [product("0.0")], [product("1.2", unit="Quantity")]],
    ids=["no product", "two prices", "zero", "not hourly"],
)
def test_no_single_hourly_price_means_unknown_never_a_guess(answer: list[str]) -> None:
    assert hourly_usd(answer) is None


def test_the_filters_ask_for_linux_shared_tenancy_in_the_region() -> None:
    fields = {f["Field"]: f["Value"] for f in product_filters("m6g.large", "ap-south-1")}
    assert fields["instanceType"] == "m6g.large" and fields["regionCode"] == "ap-south-1"
    assert fields["operatingSystem"] == "Linux" and fields["tenancy"] == "Shared"
    assert fields["preInstalledSw"] == "NA" and fields["capacitystatus"] == "Used"


def test_the_gp3_price_is_its_storage_gb_month_in_the_region_and_is_cached_apart(
    pricing: Any, tmp_path: Path
) -> None:
    client, stub = pricing
    expect(stub, "t3.medium", [product("0.0456")])
    stub.add_response(
        "get_products",
        {"PriceList": [product("0.0880000000", unit="GB-Mo")], "FormatVersion": "aws_v1"},
        {
            "ServiceCode": "AmazonEC2",
            "Filters": storage_filters("gp3", "eu-west-1"),
            "FormatVersion": "aws_v1",
            "MaxResults": 10,
        },
    )
    book = PriceBook(lambda: client, "eu-west-1", tmp_path)
    assert book.hourly("t3.medium") == pytest.approx(0.0456)
    assert book.gb_month("gp3") == pytest.approx(0.088)
    again = PriceBook(lambda: client, "eu-west-1", tmp_path)  # no call left in the stub
    assert again.gb_month("gp3") == pytest.approx(0.088)
    assert again.hourly("t3.medium") == pytest.approx(0.0456)
    fields = {f["Field"]: f["Value"] for f in storage_filters("gp3", "eu-west-1")}
    assert fields == {"productFamily": "Storage", "volumeApiName": "gp3", "regionCode": "eu-west-1"}


def test_an_hourly_price_is_no_gb_month_price() -> None:
    assert unit_usd([product("0.088", unit="GB-Mo")], "Hrs") is None
    assert unit_usd([product("0.0456")], "GB-Mo") is None


def tier(usd: str, begin: str) -> str:
    dimension = {"unit": "GB-Mo", "pricePerUnit": {"USD": usd}, "beginRange": begin}
    term = {"priceDimensions": {f"D{begin}": dimension}}
    return json.dumps({"terms": {"OnDemand": {"T": term}}})


def test_s3_standard_is_priced_at_its_first_tier_and_a_quote_says_when_it_was_cached(
    pricing: Any, tmp_path: Path
) -> None:
    client, stub = pricing
    tiers = [tier("0.023", "0"), tier("0.022", "51200"), tier("0.021", "512000")]
    stub.add_response(
        "get_products",
        {"PriceList": tiers, "FormatVersion": "aws_v1"},
        {
            "ServiceCode": "AmazonS3",
            "Filters": s3_filters("eu-west-1"),
            "FormatVersion": "aws_v1",
            "MaxResults": 10,
        },
    )
    now = [5000.0]
    book = PriceBook(lambda: client, "eu-west-1", tmp_path, clock=lambda: now[0])
    fresh = book.s3_standard_quote()
    assert (fresh.usd, fresh.cached_at) == (pytest.approx(0.023), None)
    now[0] += 60
    cached = book.s3_standard_quote()  # no call left in the stub
    assert (cached.usd, cached.cached_at) == (pytest.approx(0.023), 5000.0)
    assert unit_usd(tiers, "GB-Mo") is None  # tiered, and not asked for the first tier


def test_the_spot_price_is_the_latest_linux_entry_of_the_type_in_the_zone() -> None:
    def entry(price: str, when: str, zone: str = "eu-west-1a", **other: str) -> dict[str, str]:
        fields = {"InstanceType": "t3.small", "ProductDescription": "Linux/UNIX"}
        return {**fields, "AvailabilityZone": zone, "SpotPrice": price, "Timestamp": when, **other}

    history = [
        entry("0.0070", "2026-12-03T11:00:00Z"),
        entry("0.0065", "2026-12-03T12:03:00Z"),
        entry("0.0010", "2026-12-03T12:30:00Z", zone="eu-west-1b"),
        entry("0.0300", "2026-12-03T12:40:00Z", ProductDescription="Windows"),
        entry("0.0200", "2026-12-03T12:50:00Z", InstanceType="t3.large"),
    ]
    found = latest_spot_price(history, "t3.small", "eu-west-1a")
    assert found == SpotPrice(0.0065, 1796299380.0)
    assert latest_spot_price(history, "t3.small", "eu-west-1c") is None
