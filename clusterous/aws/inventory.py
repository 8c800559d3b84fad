"""An account-wide look for what clusterous made: the enabled regions, and what each holds.

``ls-clusters --all-regions`` looks through every region the account has
enabled (``DescribeRegions`` lists only those), several at once, for the
instances, EBS volumes, VPCs and Elastic IPs carrying the cluster tag. Each
region is asked through its own Clients with few attempts and short timeouts
(``SCAN_ATTEMPTS``, ``SCAN_TIMEOUTS``): a region that is slow or refuses is
reported as such by the caller, never waited on for long.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clusterous.aws.clients import Clients
from clusterous.aws.ec2 import Ec2, Instance, Volume
from clusterous.aws.tags import any_cluster_filter, tags_of

SCAN_ATTEMPTS = 3
SCAN_TIMEOUTS = (5.0, 20.0)  # connect, read: seconds per try


@dataclass(frozen=True)
class Address:
    """An Elastic IP: billed by the hour whether or not it is associated."""

    id: str  # the allocation id
    public_ip: str
    associated: bool
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RegionContents:
    """Everything in one region carrying the cluster tag (any cluster)."""

    region: str
    instances: list[Instance] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)
    vpcs: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> tags
    addresses: list[Address] = field(default_factory=list)


def enabled_regions(clients: Clients) -> list[str]:
    """The regions this account may use (opt-in regions only once opted in)."""
    answer = clients.call("ec2:DescribeRegions", "describe_regions")
    return sorted(str(r["RegionName"]) for r in answer.get("Regions", []))


def known_regions(clients: Clients) -> list[str]:
    """Every region botocore knows in the partition of the clients' region (no call made):
    for an identity not allowed DescribeRegions; those not enabled then refuse, one by one."""
    boto = clients.session.boto
    partition = boto.get_partition_for_region(clients.region)
    return sorted(boto.get_available_regions("ec2", partition_name=partition))


def scan_clients(clients: Clients, region: str) -> Clients:
    """Clients for one region of a scan: bounded retries and timeouts."""
    return clients.in_region(region, SCAN_ATTEMPTS, SCAN_TIMEOUTS)


def region_contents(clients: Clients) -> RegionContents:
    """What carries the cluster tag in the clients' region; instances ended long ago aside."""
    ec2 = Ec2(clients)
    tagged = any_cluster_filter()
    return RegionContents(
        clients.region,
        ec2.find_instances(tagged),
        ec2.find_volumes(tagged),
        ec2.vpc_tags(tagged),
        _addresses(clients, tagged),
    )


def _addresses(clients: Clients, filters: list[dict[str, Any]]) -> list[Address]:
    answer = clients.call("ec2:DescribeAddresses", "describe_addresses", Filters=filters)
    return [
        Address(
            str(a.get("AllocationId") or a.get("PublicIp")),
            str(a.get("PublicIp", "")),
            bool(a.get("AssociationId")),
            tags_of(a),
        )
        for a in answer.get("Addresses", [])
    ]
