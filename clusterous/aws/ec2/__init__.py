"""The thin typed wrapper over the EC2 and SSM APIs, with methods named for the cluster's needs.

Split by resource (see ``common``); ``Ec2`` is all of them on one clients object.
"""

from __future__ import annotations

from clusterous.aws.ec2.catalog import (
    DEBIAN_AMI_PARAMETER,
    CatalogCalls,
    SpotPrice,
    TypeInfo,
    regular_zones,
)
from clusterous.aws.ec2.instances import (
    CapacityError,
    Instance,
    InstanceCalls,
    LaunchSpec,
    QuotaError,
)
from clusterous.aws.ec2.network import NetworkCalls, NetworkPieces
from clusterous.aws.ec2.volumes import Volume, VolumeCalls

__all__ = [
    "DEBIAN_AMI_PARAMETER",
    "CapacityError",
    "Ec2",
    "Instance",
    "LaunchSpec",
    "NetworkPieces",
    "QuotaError",
    "SpotPrice",
    "TypeInfo",
    "Volume",
    "regular_zones",
]


class Ec2(CatalogCalls, NetworkCalls, InstanceCalls, VolumeCalls):
    """EC2 and SSM in the region of one provider's clients."""
