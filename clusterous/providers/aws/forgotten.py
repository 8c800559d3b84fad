"""Forgotten money on AWS: what clusterous made, in every enabled region, with a monthly price.

``ls-clusters --all-regions`` asks this for the account's whole picture: the
instances, EBS volumes (shared ones, kept ones, root disks left without their
instance), VPCs and Elastic IPs tagged with a cluster, in every region the
account has enabled, and the registry prefixes in the profile's bucket. The
regions are looked into a few at once (``WORKERS``), each through clients with
bounded retries and timeouts; one that refuses or does not answer is skipped
with its reason, and the others still count. Each thing gets an estimated
monthly price from the Price List, asked after the scan, once per region and
type (instances: on-demand x 730 h; EBS and S3 by the GB-month), or None:
"price unknown", never a made-up number.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from clusterous import cancel
from clusterous.aws.clients import Clients
from clusterous.aws.ec2 import Instance, Volume
from clusterous.aws.errors import AwsPermissionError
from clusterous.aws.inventory import (
    Address,
    RegionContents,
    enabled_regions,
    known_regions,
    region_contents,
    scan_clients,
)
from clusterous.aws.pricing import PRICING_REGION, PriceBook
from clusterous.aws.registry_store import RegistryStore, bucket_region, cluster_prefixes
from clusterous.aws.tags import CLUSTER_ID_TAG, CLUSTER_TAG, KEEP_TAG, ROLE_TAG
from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.providers.aws.catalog import (
    HOURS_PER_MONTH,
    PRICING_ATTEMPTS,
    PUBLIC_IPV4_HOURLY_USD,
)
from clusterous.providers.base import AccountScan, Billable, Say

if TYPE_CHECKING:
    from clusterous.aws.session import AwsSession
    from clusterous.config import Profile

WORKERS = 6  # regions looked into at once
GIB = 2**30  # AWS's GB-month is a GiB-month
ON_DEMAND = "on-demand price x 730 h"
EBS = "AWS Price List, GB-month"
S3_STANDARD = "AWS Price List, S3 Standard GB-month"
IPV4 = "AWS's flat price per address-hour x 730 h"


class Prices:
    """One PriceBook per region, all asking through one pricing client."""

    def __init__(self, clients: Clients, home: Home) -> None:
        self._client = lambda: clients.get("pricing", PRICING_REGION, attempts=PRICING_ATTEMPTS)
        self._cache = home.cache_dir
        self._books: dict[str, PriceBook] = {}

    def book(self, region: str) -> PriceBook:
        if region not in self._books:
            self._books[region] = PriceBook(self._client, region, self._cache)
        return self._books[region]


class Progress:
    """``[3/17] eu-west-1: 2 found``, from whichever worker finishes."""

    def __init__(self, total: int, say: Say) -> None:
        self.total = total
        self.say = say
        self.done = 0
        self.lock = threading.Lock()

    def tell(self, region: str, text: str) -> None:
        with self.lock:
            self.done += 1
            self.say(f"[{self.done}/{self.total}] {region}: {text}")


class AwsAccountScanner:
    """The account of one AWS profile, every enabled region, and the profile's bucket."""

    def __init__(
        self,
        profile: Profile,
        home: Home,
        session: Callable[[], AwsSession] | None = None,
        sleep: Callable[[float], None] = cancel.sleep,
        clock: Callable[[], float] = time.monotonic,
        workers: int = WORKERS,
    ) -> None:
        self.profile = profile
        self.home = home
        self._session = session
        self.sleep = sleep
        self.clock = clock
        self.workers = workers

    def _clients(self) -> Clients:
        if self._session is not None:
            session = self._session()
        else:
            from clusterous.aws.session import session_for

            session = session_for(self.profile)
        return Clients(session, self.sleep, self.clock)

    def scan(self, say: Say) -> AccountScan:
        clients = self._clients()
        regions = self._regions(clients, say)
        say(f"looking through {len(regions)} regions, {self.workers} at a time")
        progress = Progress(len(regions), say)
        jobs = [partial(self._look, clients, region, progress) for region in regions]
        looked = cancel.in_parallel(jobs, limit=self.workers)
        scan = AccountScan(regions)
        prices = Prices(clients, self.home)
        for region, contents, why in looked:
            if contents is None:
                scan.skipped[region] = why
            else:
                scan.found += billables(contents, prices.book(region))
        scan.found += self._prefixes(clients, prices, scan)
        return scan

    def _regions(self, clients: Clients, say: Say) -> list[str]:
        try:
            return enabled_regions(clients)
        except AwsPermissionError as problem:
            say(f"{problem.what}: looking through every region of the partition instead")
            return known_regions(clients)

    def _look(
        self, clients: Clients, region: str, progress: Progress
    ) -> tuple[str, RegionContents | None, str]:
        try:
            contents = region_contents(scan_clients(clients, region))
        except ClusterousError as problem:
            progress.tell(region, f"skipped ({problem.what})")
            return region, None, problem.render()
        count = len(contents.instances) + len(contents.volumes) + len(contents.vpcs)
        progress.tell(region, f"{count + len(contents.addresses)} found" if count else "nothing")
        return region, contents, ""

    def _prefixes(self, clients: Clients, prices: Prices, scan: AccountScan) -> list[Billable]:
        """Each cluster's registry prefix in the profile's bucket, with its size."""
        bucket = self.profile.bucket
        if not bucket:
            return []
        try:
            names = cluster_prefixes(clients, bucket)
            region = bucket_region(clients, bucket) if names else clients.region
            stores = {n: RegistryStore(clients, bucket, p) for n, p in sorted(names.items())}
            contents = {n: store.contents() for n, store in stores.items()}
        except ClusterousError as problem:
            scan.skipped[f"s3://{bucket}"] = problem.render()
            return []
        per_gib = prices.book(region).s3_standard_quote().usd
        return [
            Billable(
                region,
                "registry-prefix",
                stores[name].url,
                name,
                f"registry images, {held.describe()}",
                None if per_gib is None else held.size / GIB * per_gib,
                S3_STANDARD,
            )
            for name, held in contents.items()
            if not held.empty
        ]


def billables(contents: RegionContents, book: PriceBook) -> list[Billable]:
    region = contents.region
    found = [instance_line(region, i, book) for i in contents.instances]
    found += [volume_line(region, v, book) for v in contents.volumes if v.state != "deleting"]
    found += [
        Billable(
            region,
            "vpc",
            vpc,
            tags.get(CLUSTER_TAG, ""),
            "network",
            0.0,
            "free of its own",
            tags.get(CLUSTER_ID_TAG, ""),
        )
        for vpc, tags in sorted(contents.vpcs.items())
    ]
    found += [address_line(region, a) for a in contents.addresses]
    return found


def instance_line(region: str, instance: Instance, book: PriceBook) -> Billable:
    market = "spot" if instance.spot else "on-demand"
    what = f"{instance.instance_type} {market}, {instance.state}"
    if instance.state in ("pending", "running"):
        hourly = book.hourly(instance.instance_type)
        ipv4 = PUBLIC_IPV4_HOURLY_USD if instance.public_ip else 0.0
        monthly = None if hourly is None else (hourly + ipv4) * HOURS_PER_MONTH
        source = ON_DEMAND + (" (spot: at most)" if instance.spot else "")
        source += " with its public IPv4" if ipv4 else ""
    else:
        monthly, source = 0.0, "not running: no compute charge (its disks are listed)"
    tags = instance.tags
    return Billable(
        region,
        "instance",
        instance.id,
        tags.get(CLUSTER_TAG, ""),
        what,
        monthly,
        source,
        tags.get(CLUSTER_ID_TAG, ""),
    )


def volume_line(region: str, volume: Volume, book: PriceBook) -> Billable:
    tags = volume.tags
    kind = volume.volume_type or "gp3"
    role = tags.get(ROLE_TAG, "")
    if role == "volume":
        kept = bool(tags.get(KEEP_TAG))
        said, role = ("shared volume, kept", "kept-volume") if kept else ("shared volume", role)
    elif role == "root-disk" and not volume.attached_to:
        said, role = "root disk without its instance", "orphaned-root-disk"
    else:
        said = role.replace("-", " ") or "volume"
    per_gib = book.gb_month(kind)
    return Billable(
        region,
        "volume",
        volume.id,
        tags.get(CLUSTER_TAG, ""),
        f"{volume.size_gib} GiB {kind}, {said}, {volume.state}",
        None if per_gib is None else volume.size_gib * per_gib,
        f"{EBS} ({kind})",
        tags.get(CLUSTER_ID_TAG, ""),
        role,
    )


def address_line(region: str, address: Address) -> Billable:
    held = "associated" if address.associated else "not associated"
    return Billable(
        region,
        "address",
        address.id,
        address.tags.get(CLUSTER_TAG, ""),
        f"Elastic IP {address.public_ip}, {held}",
        PUBLIC_IPV4_HOURLY_USD * HOURS_PER_MONTH,
        IPV4,
        address.tags.get(CLUSTER_ID_TAG, ""),
    )
