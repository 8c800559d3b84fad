"""The AWS catalog: instance types of the region, the zones offering them, their prices and AMIs."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from pathlib import Path

from clusterous.aws.clients import Clients
from clusterous.aws.ec2 import DEBIAN_AMI_PARAMETER, Ec2, LaunchSpec, TypeInfo
from clusterous.aws.pricing import PRICING_REGION, PriceBook
from clusterous.errors import InputError
from clusterous.providers.base import CostLine, InstanceType, Role

DEFAULT_TYPES: dict[Role, str] = {"controller": "t3.medium", "node": "t3.medium"}
PRICING_ATTEMPTS = 2  # a price is a courtesy: never keep the user waiting for it
DEFAULT_VOLUME_GIB = 20  # the shared volume when the profile gives no size
ROOT_GIB = LaunchSpec.root_gib  # each node's root disk, gp3
PUBLIC_IPV4_HOURLY_USD = 0.005  # AWS's price of any public IPv4 address, since February 2024
HOURS_PER_MONTH = 730  # how AWS turns a GB-month price into an hourly one


class AwsCatalog:
    """What the region offers, learned as types are checked (a plan's, an add-nodes')."""

    def __init__(
        self,
        clients: Callable[[], Clients],
        cache_dir: Path,
        node_type: str | None,
        image_parameter: str = DEBIAN_AMI_PARAMETER,
    ) -> None:
        self._clients = clients
        self.cache_dir = cache_dir
        self.node_type = node_type
        self.image_parameter = image_parameter
        self.types: dict[str, TypeInfo] = {}
        self.zones: dict[str, set[str]] = {}  # instance type -> zones offering it
        self._amis: dict[str, tuple[str, str]] = {}

    @property
    def ec2(self) -> Ec2:
        return Ec2(self._clients())

    @property
    def region(self) -> str:
        return self._clients().region

    def book(self) -> PriceBook:
        return PriceBook(
            lambda: self._clients().get("pricing", PRICING_REGION, attempts=PRICING_ATTEMPTS),
            self.region,
            self.cache_dir,
        )

    def instance_types(self) -> dict[str, InstanceType]:
        book = self.book()
        return {
            name: InstanceType(name, info.vcpus, info.memory_mib, book.hourly(name))
            for name, info in self.types.items()
        }

    def running_costs(self, nodes: int, new_volume_gib: int | None) -> list[CostLine]:
        """gp3 disks (priced by the GB-month, shown by the hour) and public IPv4 addresses."""
        per_gib = self.book().gb_month("gp3")
        source = "AWS Price List, gp3 GB-month / 730 h"

        def disks(gib: int) -> float | None:
            return None if per_gib is None else gib * per_gib / HOURS_PER_MONTH

        volume = DEFAULT_VOLUME_GIB if new_volume_gib is None else new_volume_gib
        shared = CostLine("shared volume", f"{volume} GiB gp3", disks(volume), source)
        roots = nodes * ROOT_GIB
        return [
            *([shared] if volume else []),
            CostLine("root disks", f"{nodes} x {ROOT_GIB} GiB", disks(roots), source),
            CostLine(
                "public IPv4",
                f"{nodes} address" + ("es" if nodes != 1 else ""),
                nodes * PUBLIC_IPV4_HOURLY_USD,
                "AWS's flat price per address-hour",
            ),
        ]

    def default_instance_type(self, role: Role) -> str:
        if role == "node" and self.node_type:
            return self.node_type
        return DEFAULT_TYPES[role]

    def image_of(self, instance_type: str) -> str:
        """The AMI nodes of this type boot (dry-run display)."""
        info = self.types.get(instance_type)
        return self.image_for(info.architecture)[0] if info else "?"

    def check_instance_types(self, names: Sequence[str]) -> None:
        """Known in the region, offered in some zone, and one zone offering them all."""
        wanted = sorted(set(names) - set(self.types))
        if not wanted:
            return
        ec2 = self.ec2
        offered = ec2.offered_type_names()
        for name in wanted:
            if name not in offered:
                raise unknown_instance_type(name, offered, self.region)
        self.types.update(ec2.describe_types(wanted))
        zones = ec2.zones_offering(wanted)
        for name in wanted:
            if not zones.get(name):
                raise InputError(
                    f"instance type {name} is offered in no availability zone of {self.region}",
                    None,
                    "pick another instance type, or another region",
                )
        self.zones.update(zones)

    def primary_zone(self) -> str:
        """The first zone offering every type checked so far: the controller's, by default."""
        types = sorted(self.types)
        common = set.intersection(*(self.zones[t] for t in types)) if types else set()
        if not common:
            where = "; ".join(f"{t}: {', '.join(sorted(z))}" for t, z in sorted(self.zones.items()))
            raise InputError(
                f"no availability zone of {self.region} offers all the instance types asked for",
                where,
                "choose instance types offered together in one zone",
            )
        return sorted(common)[0]

    def image_for(self, architecture: str) -> tuple[str, str]:
        """The AMI and its root device name for ``architecture`` (x86_64 | arm64)."""
        if architecture not in self._amis:
            ec2 = self.ec2
            image = ec2.debian_ami(architecture, self.image_parameter)
            self._amis[architecture] = (image, ec2.root_device(image))
        return self._amis[architecture]


def unknown_instance_type(name: str, offered: set[str], region: str) -> InputError:
    close = difflib.get_close_matches(name, sorted(offered), n=4, cutoff=0.6)
    return InputError(
        f"unknown instance type {name!r} in {region}",
        f"did you mean {', '.join(close)}?" if close else "no instance type has a similar name",
        "see 'aws ec2 describe-instance-types' or the EC2 console for the types of this region",
    )
