"""On-demand prices from the AWS Price List API, cached: EC2 instance types, EBS, S3.

``create --dry-run`` shows what a cluster costs per hour. The price comes from
``pricing:GetProducts`` (Linux, shared tenancy, no pre-installed software) and
is cached under ``$CLUSTEROUS_HOME/cache/`` for a week, since prices change
rarely and the API is slow. When a price cannot be had (no permission, no
network, an ambiguous answer) the answer is None, shown as "price unknown":
never a made-up number. Instance types are priced by the hour, EBS volume
types by the GB-month (``storage_filters``), S3 Standard by the GB-month of
its first tier (``s3_filters``: the first 50 TB a month). ``quote`` says
whether a price came from the API now or from the cache, and since when.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterous.home import atomic_write

PRICING_REGION = "us-east-1"  # the Price List API answers in a few regions only
CACHE_SECONDS = 7 * 24 * 3600
CACHE_FILE = "aws-prices.json"


def product_filters(instance_type: str, region: str) -> list[dict[str, str]]:
    wanted = {
        "instanceType": instance_type,
        "regionCode": region,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "licenseModel": "No License required",
    }
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in wanted.items()]


def storage_filters(volume_type: str, region: str) -> list[dict[str, str]]:
    """The EBS volume type's storage price (gp3: GB-month), not its IOPS or throughput."""
    wanted = {"productFamily": "Storage", "volumeApiName": volume_type, "regionCode": region}
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in wanted.items()]


def s3_filters(region: str) -> list[dict[str, str]]:
    """S3 Standard's storage price (GB-month), not its requests or transfer."""
    wanted = {
        "productFamily": "Storage",
        "storageClass": "General Purpose",
        "volumeType": "Standard",
        "regionCode": region,
    }
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in wanted.items()]


@dataclass(frozen=True)
class Quote:
    """A price and where it came from: the API now (``cached_at`` None) or the cache."""

    usd: float | None  # None: unknown, never guessed
    cached_at: float | None = None  # epoch seconds the cached answer was had


def hourly_usd(price_list: Sequence[Any]) -> float | None:
    """The one on-demand hourly USD price in a GetProducts answer, or None."""
    return unit_usd(price_list, "Hrs")


def unit_usd(price_list: Sequence[Any], unit: str, first_tier: bool = False) -> float | None:
    """The one on-demand USD price per ``unit`` (Hrs, GB-Mo) in a GetProducts answer, or None.

    ``first_tier``: of a tiered price (S3 storage), the tier beginning at 0.
    """
    prices: set[float] = set()
    for item in price_list:
        product = json.loads(item) if isinstance(item, str) else item
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if first_tier and str(dimension.get("beginRange", "0")) != "0":
                    continue
                if dimension.get("unit") == unit and usd is not None:
                    prices.add(float(usd))
    positive = {p for p in prices if p > 0}
    return positive.pop() if len(positive) == 1 else None


class PriceBook:
    """Prices for one region; ``client`` makes the pricing client on first use."""

    def __init__(
        self,
        client: Callable[[], Any],
        region: str,
        cache_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.region = region
        self.cache_path = cache_dir / CACHE_FILE
        self.clock = clock

    def hourly(self, instance_type: str) -> float | None:
        """The instance type's on-demand price per hour."""
        return self.hourly_quote(instance_type).usd

    def gb_month(self, volume_type: str) -> float | None:
        """The EBS volume type's price per GB-month."""
        return self.gb_month_quote(volume_type).usd

    def hourly_quote(self, instance_type: str) -> Quote:
        filters = product_filters(instance_type, self.region)
        return self._price(f"{self.region}/{instance_type}", filters, "Hrs")

    def gb_month_quote(self, volume_type: str) -> Quote:
        filters = storage_filters(volume_type, self.region)
        return self._price(f"{self.region}/ebs:{volume_type}", filters, "GB-Mo")

    def s3_standard_quote(self) -> Quote:
        """S3 Standard storage per GB-month, its first tier."""
        key, filters = f"{self.region}/s3:standard", s3_filters(self.region)
        return self._price(key, filters, "GB-Mo", "AmazonS3", first_tier=True)

    def _price(
        self,
        key: str,
        filters: list[dict[str, str]],
        unit: str,
        service: str = "AmazonEC2",
        first_tier: bool = False,
    ) -> Quote:
        cached = self._cache().get(key)
        if cached and self.clock() - float(cached["at"]) < CACHE_SECONDS:
            return Quote(float(cached["usd"]), float(cached["at"]))
        price = self._ask(service, filters, unit, first_tier)
        if price is not None:
            self._remember(key, price)
        return Quote(price)

    def _ask(
        self, service: str, filters: list[dict[str, str]], unit: str, first_tier: bool
    ) -> float | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client().get_products(
                ServiceCode=service, Filters=filters, FormatVersion="aws_v1", MaxResults=10
            )
        except (ClientError, BotoCoreError):
            return None
        return unit_usd(answer.get("PriceList", []), unit, first_tier)

    def _cache(self) -> dict[str, dict[str, Any]]:
        try:
            loaded = json.loads(self.cache_path.read_text())
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _remember(self, key: str, price: float) -> None:
        cache = self._cache()
        cache[key] = {"usd": price, "at": self.clock()}
        self.cache_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(self.cache_path, json.dumps(cache, indent=1, sort_keys=True), mode=0o644)
