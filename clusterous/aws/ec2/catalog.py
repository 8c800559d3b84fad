"""Instance types, the zones offering them, the Debian image: what a plan is checked against."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from clusterous.aws.ec2.common import Ec2Api, epoch_of
from clusterous.errors import ClusterousError

DEBIAN_AMI_PARAMETER = "/aws/service/debian/release/12/latest/{arch}"
REGULAR_ZONE = "availability-zone"  # not a Local Zone or a Wavelength Zone
SPOT_PRODUCTS = ("Linux/UNIX", "Linux/UNIX (Amazon VPC)")  # the second: EC2-Classic's old name


@dataclass(frozen=True)
class TypeInfo:
    name: str
    vcpus: int
    memory_mib: int
    architecture: str  # x86_64 | arm64
    nitro: bool


@dataclass(frozen=True)
class SpotPrice:
    usd_hourly: float
    at: float  # epoch seconds: when this price took effect


class CatalogCalls(Ec2Api):
    def offered_type_names(self) -> set[str]:
        """Every instance type offered somewhere in the region."""
        offers = self.clients.pages(
            "ec2:DescribeInstanceTypeOfferings",
            "describe_instance_type_offerings",
            "InstanceTypeOfferings",
            LocationType="region",
        )
        return {str(o["InstanceType"]) for o in offers}

    def describe_types(self, names: Sequence[str]) -> dict[str, TypeInfo]:
        if not names:
            return {}
        answer = self.clients.call(
            "ec2:DescribeInstanceTypes", "describe_instance_types", InstanceTypes=list(names)
        )
        return {str(t["InstanceType"]): type_info(t) for t in answer.get("InstanceTypes", [])}

    def zones_offering(self, names: Sequence[str]) -> dict[str, set[str]]:
        """For each instance type, the availability zones that offer it."""
        offers = self.clients.pages(
            "ec2:DescribeInstanceTypeOfferings",
            "describe_instance_type_offerings",
            "InstanceTypeOfferings",
            LocationType="availability-zone",
            Filters=[{"Name": "instance-type", "Values": list(names)}],
        )
        regular = set(self.availability_zones())
        zones: dict[str, set[str]] = {name: set() for name in names}
        for offer in (o for o in offers if str(o["Location"]) in regular):
            zones.setdefault(str(offer["InstanceType"]), set()).add(str(offer["Location"]))
        return zones

    def availability_zones(self) -> list[str]:
        """The region's available zones proper: no Local Zones, no Wavelength Zones.

        Those others are far from the region (latency, fewer services, other
        prices) and appear in instance-type offerings like any zone.
        """
        answer = self.clients.call(
            "ec2:DescribeAvailabilityZones",
            "describe_availability_zones",
            Filters=[{"Name": "state", "Values": ["available"]}],
        )
        return regular_zones(answer.get("AvailabilityZones", []))

    def spot_price(self, instance_type: str, zone: str, at: float) -> SpotPrice | None:
        """The zone's spot price for Linux in effect at ``at`` (the latest entry), or None."""
        from datetime import datetime, timezone

        answer = self.clients.call(
            "ec2:DescribeSpotPriceHistory",
            "describe_spot_price_history",
            InstanceTypes=[instance_type],
            ProductDescriptions=[SPOT_PRODUCTS[0]],
            AvailabilityZone=zone,
            StartTime=datetime.fromtimestamp(at, tz=timezone.utc),
            MaxResults=100,
        )
        return latest_spot_price(answer.get("SpotPriceHistory", []), instance_type, zone)

    def debian_ami(self, architecture: str, parameter: str = DEBIAN_AMI_PARAMETER) -> str:
        """The AMI an SSM parameter names; ``{arch}`` in it becomes amd64 or arm64."""
        arch = "arm64" if architecture == "arm64" else "amd64"
        name = parameter.format(arch=arch)
        answer = self.clients.call("ssm:GetParameter", "get_parameter", Name=name)
        return str(answer["Parameter"]["Value"])

    def root_device(self, image_id: str) -> str:
        answer = self.clients.call("ec2:DescribeImages", "describe_images", ImageIds=[image_id])
        images = answer.get("Images", [])
        if not images:
            raise ClusterousError(f"the AMI {image_id} does not exist in {self.region}")
        return str(images[0].get("RootDeviceName") or "/dev/xvda")


def regular_zones(zones: Iterable[dict[str, Any]]) -> list[str]:
    """Names of the zones that are availability zones proper (ZoneType availability-zone)."""
    return sorted(
        str(z["ZoneName"]) for z in zones if z.get("ZoneType", REGULAR_ZONE) == REGULAR_ZONE
    )


def type_info(raw: dict[str, Any]) -> TypeInfo:
    architectures = raw.get("ProcessorInfo", {}).get("SupportedArchitectures", ["x86_64"])
    return TypeInfo(
        name=str(raw["InstanceType"]),
        vcpus=int(raw.get("VCpuInfo", {}).get("DefaultVCpus", 0)),
        memory_mib=int(raw.get("MemoryInfo", {}).get("SizeInMiB", 0)),
        architecture="arm64" if "arm64" in architectures else "x86_64",
        nitro=raw.get("Hypervisor", "nitro") == "nitro",
    )


def latest_spot_price(
    history: Iterable[dict[str, Any]], instance_type: str, zone: str
) -> SpotPrice | None:
    """The newest entry for the type in the zone, for Linux; None when there is none."""
    entries = [
        SpotPrice(float(h["SpotPrice"]), epoch_of(h.get("Timestamp")))
        for h in history
        if h.get("InstanceType") == instance_type
        and h.get("AvailabilityZone") == zone
        and h.get("ProductDescription") in SPOT_PRODUCTS
        and h.get("SpotPrice")
    ]
    return max(entries, key=lambda p: p.at) if entries else None
