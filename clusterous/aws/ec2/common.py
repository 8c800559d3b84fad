"""What every part of the EC2 wrapper shares: the clients, the injected clock, the error codes.

The wrapper is split by resource (``catalog``: instance types, zones and
images; ``network``; ``instances``; ``volumes``), each a set of calls on this
base, and ``Ec2`` in the package combines them. Every call goes through
``Clients.call`` (the one place errors are translated and waited out): callers
see ClusterousErrors only (DESIGN section 6), plus the two failures the
provider reacts to, ``CapacityError`` and ``QuotaError``. Deletes are
idempotent: a thing already gone is success. EC2 is eventually consistent: a
resource made a moment ago may still be "not found" by the next call, and a
subnet or group may still be "in use" by the network interface of an instance
terminated a moment ago; both are waited out, within a deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from clusterous.aws.clients import Clients

NOT_FOUND_CODES = frozenset(
    {
        "InvalidVpcID.NotFound",
        "InvalidSubnetID.NotFound",
        "InvalidInternetGatewayID.NotFound",
        "InvalidRouteTableID.NotFound",
        "InvalidGroup.NotFound",
        "InvalidVolume.NotFound",
        "InvalidInstanceID.NotFound",
    }
)
GONE_CODES = NOT_FOUND_CODES | {"InvalidAssociationID.NotFound"}


class Ec2Api:
    """EC2 (and SSM, for the AMI) in the clients' region."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    @property
    def region(self) -> str:
        return self.clients.region

    @property
    def sleep(self) -> Callable[[float], None]:
        return self.clients.sleep

    @property
    def clock(self) -> Callable[[], float]:
        return self.clients.clock


def epoch_of(moment: Any) -> float:
    """An AWS timestamp (botocore gives datetimes) as epoch seconds; 0.0 when absent."""
    if isinstance(moment, datetime):
        return moment.timestamp()
    if isinstance(moment, str) and moment:
        return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
    return 0.0
