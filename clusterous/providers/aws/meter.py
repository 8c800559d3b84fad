"""What an AWS cluster bills now, read from AWS itself: the rates ``status`` prices.

Instances by type and market, each from its own ``LaunchTime`` (running ones
only: the nodes running now, not ones removed earlier); on demand at the Price
List's price (the dry run's ``PriceBook``), spot at the zone's latest spot
price. Its EBS volumes (the shared volume and the root disks) by the GB-month
from their creation, public IPv4 addresses at AWS's flat hourly price, and the
registry's objects under ``<bucket>/clusterous/<cluster>/`` at S3 Standard's
GB-month price from their upload. Data transfer and requests are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from clusterous.aws.ec2 import Ec2, Instance, Volume
from clusterous.aws.pricing import PriceBook, Quote
from clusterous.aws.registry_store import RegistryStore
from clusterous.aws.tags import ROLE_TAG, cluster_filter
from clusterous.errors import ClusterousError
from clusterous.providers.aws.catalog import PUBLIC_IPV4_HOURLY_USD
from clusterous.providers.cost import PRICE_UNKNOWN, Rate, Use
from clusterous.records import ClusterState

BILLING_VOLUME_STATES = ("creating", "available", "in-use")
GIB = 1024**3


class AwsMeter:
    """Reads the rates of one cluster: its instances, volumes, addresses and stored images."""

    def __init__(
        self,
        ec2: Callable[[], Ec2],
        book: Callable[[], PriceBook],
        store: Callable[[], RegistryStore | None],
        cluster: str,
    ) -> None:
        self._ec2 = ec2
        self._book = book
        self._store = store
        self.cluster = cluster

    def rates(self, state: ClusterState, now: float) -> list[Rate]:
        ec2, book = self._ec2(), self._book()
        running = ec2.find_instances(cluster_filter(self.cluster), states=("running",))
        rates = instance_rates(running, ec2, book, now)
        rates += volume_rates(self._volumes(ec2, state), book)
        addressed = [i for i in running if i.public_ip]
        if addressed:
            uses = tuple(Use(1, i.launched_at) for i in addressed)
            flat = "AWS's flat price"
            rates.append(
                Rate("public IPv4", "address", "address-hour", PUBLIC_IPV4_HOURLY_USD, flat, uses)
            )
        store = self._store()
        if store is not None:
            rates.append(registry_rate(store, book))
        return rates

    def _volumes(self, ec2: Ec2, state: ClusterState) -> list[Volume]:
        found = {v.id: v for v in ec2.find_volumes(cluster_filter(self.cluster))}
        for resource in state.resources:  # a volume the user brought carries no tag of ours
            if resource.kind == "volume" and resource.id not in found:
                brought = ec2.describe_volume(resource.id)
                if brought is not None:
                    found[brought.id] = brought
        return [v for v in found.values() if v.state in BILLING_VOLUME_STATES]


def instance_rates(instances: list[Instance], ec2: Ec2, book: PriceBook, now: float) -> list[Rate]:
    """One line per type and market (spot: per zone, whose price it pays)."""
    groups: dict[tuple[str, bool, str], list[Instance]] = {}
    for instance in instances:
        key = (instance.instance_type, instance.spot, instance.zone if instance.spot else "")
        groups.setdefault(key, []).append(instance)
    rates = []
    for (itype, spot, zone), members in sorted(groups.items()):
        uses = tuple(Use(1, i.launched_at) for i in members)
        if spot:
            price, source = spot_price(ec2, itype, zone, now)
            what = f"{itype} spot, {zone}"
        else:
            quote = book.hourly_quote(itype)
            price, source, what = quote.usd, quote_source(quote, book.region), f"{itype} on demand"
        rates.append(Rate(what, "instance", "instance-hour", price, source, uses))
    return rates


def spot_price(ec2: Ec2, itype: str, zone: str, now: float) -> tuple[float | None, str]:
    try:
        found = ec2.spot_price(itype, zone, now)
    except ClusterousError:
        found = None
    if found is None:
        return None, PRICE_UNKNOWN
    return found.usd_hourly, f"spot price at {moment_words(found.at, now)}"


def volume_rates(volumes: list[Volume], book: PriceBook) -> list[Rate]:
    """The shared volume and the root disks, by volume type, from each one's creation."""
    groups: dict[tuple[bool, str], list[Volume]] = {}
    for volume in volumes:
        root = volume.tags.get(ROLE_TAG) == "root-disk"
        groups.setdefault((root, volume.volume_type or "gp3"), []).append(volume)
    rates = []
    for (root, vtype), members in sorted(groups.items()):
        quote = book.gb_month_quote(vtype)
        what = f"{'root disks' if root else 'shared volume'} ({vtype})"
        uses = tuple(Use(v.size_gib, v.created_at) for v in members)
        source = quote_source(quote, book.region)
        rates.append(Rate(what, "disk", "GiB-month", quote.usd, source, uses, True))
    return rates


def registry_rate(store: RegistryStore, book: PriceBook) -> Rate:
    """The registry's images in S3 Standard, each object from its upload."""
    uses = tuple(Use(size / GIB, written) for size, written in store.stored())
    quote = book.s3_standard_quote()
    source = quote_source(quote, book.region)
    return Rate("registry images (S3)", "storage", "GiB-month", quote.usd, source, uses, True)


def quote_source(quote: Quote, region: str) -> str:
    if quote.usd is None:
        return PRICE_UNKNOWN
    if quote.cached_at is None:
        return f"AWS Price List, {region}"
    day = datetime.fromtimestamp(quote.cached_at, tz=timezone.utc).strftime("%Y-%m-%d")
    return f"cached price list, {day}"


def moment_words(moment: float, now: float) -> str:
    """``12:03 UTC`` today, else with its date."""
    at, today = (datetime.fromtimestamp(t, tz=timezone.utc) for t in (moment, now))
    return at.strftime("%H:%M UTC" if at.date() == today.date() else "%Y-%m-%d %H:%M UTC")
