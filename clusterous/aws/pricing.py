"""On-demand prices from the AWS Price List API, cached: EC2 instance types, EBS volumes.

``create --dry-run`` shows what a cluster costs per hour. The price comes from
``pricing:GetProducts`` (Linux, shared tenancy, no pre-installed software) and
is cached under ``$CLUSTEROUS_HOME/cache/`` for a week, since prices change
rarely and the API is slow. When a price cannot be had (no permission, no
network, an ambiguous answer) the answer is None, shown as "price unknown":
never a made-up number. Instance types are priced by the hour, EBS volume
types by the GB-month (``storage_filters``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
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


def hourly_usd(price_list: Sequence[Any]) -> float | None:
    """The one on-demand hourly USD price in a GetProducts answer, or None."""
    return unit_usd(price_list, "Hrs")


def unit_usd(price_list: Sequence[Any], unit: str) -> float | None:
    """The one on-demand USD price per ``unit`` (Hrs, GB-Mo) in a GetProducts answer, or None."""
    prices: set[float] = set()
    for item in price_list:
        product = json.loads(item) if isinstance(item, str) else item
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
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
        filters = product_filters(instance_type, self.region)
        return self._price(f"{self.region}/{instance_type}", filters, "Hrs")

    def gb_month(self, volume_type: str) -> float | None:
        """The EBS volume type's price per GB-month."""
        filters = storage_filters(volume_type, self.region)
        return self._price(f"{self.region}/ebs:{volume_type}", filters, "GB-Mo")

    def _price(self, key: str, filters: list[dict[str, str]], unit: str) -> float | None:
        cached = self._cache().get(key)
        if cached and self.clock() - float(cached["at"]) < CACHE_SECONDS:
            return float(cached["usd"])
        price = self._ask(filters, unit)
        if price is not None:
            self._remember(key, price)
        return price

    def _ask(self, filters: list[dict[str, str]], unit: str) -> float | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client().get_products(
                ServiceCode="AmazonEC2", Filters=filters, FormatVersion="aws_v1", MaxResults=10
            )
        except (ClientError, BotoCoreError):
            return None
        return unit_usd(answer.get("PriceList", []), unit)

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
