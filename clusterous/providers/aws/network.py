"""The cluster's network on AWS: one VPC, a public subnet per zone used, two security groups.

Only the controller is open to SSH (from the profile's allowed range); the
other nodes accept traffic from within the VPC only. A network made in this
run is known from its creation; one made by an earlier run (add-nodes) is
found again by tag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from clusterous.aws.ec2 import Ec2
from clusterous.aws.tags import cluster_filter, cluster_tags
from clusterous.errors import ClusterousError
from clusterous.providers.base import Recorder, Role
from clusterous.records import ResourceRecord

VPC_CIDR = "10.0.0.0/16"


@dataclass
class Network:
    """The cluster's network as this provider knows it (made now, or found by tag)."""

    vpc: str
    route_table: str
    security_group: str  # the controller's: SSH from the allowed range
    subnets: dict[str, str]  # zone -> subnet id
    nodes_security_group: str = ""  # the other nodes': from the VPC only ("" = the controller's)

    def group_for(self, role: Role) -> str:
        if role == "controller":
            return self.security_group
        return self.nodes_security_group or self.security_group


@dataclass
class Placement:
    """Where the controller goes, and the shared volume it gets (learned during a create)."""

    zone: str | None = None
    volume: str | None = None


def subnet_cidr(index: int) -> str:
    """10.0.0.0/20, 10.0.16.0/20, ...: one per availability zone used."""
    return f"10.0.{index * 16}.0/20"


def security_group_names(cluster: str) -> tuple[str, str]:
    """The GroupNames of the controller's and the other nodes' security groups."""
    return f"clusterous-{cluster}", f"clusterous-{cluster}-nodes"


def resource_tags(
    cluster: str, role: str, name: str, cluster_id: str = "", **extra: str
) -> dict[str, str]:
    """The tags of one of the cluster's resources, named ``clusterous-<cluster>-<name>``."""
    return cluster_tags(cluster, role, f"clusterous-{cluster}-{name}", cluster_id, **extra)


Tags = Callable[..., dict[str, str]]  # (role, name, **extra) -> the tags, ownership id included


def find_cluster_network(ec2: Ec2, cluster: str) -> Network | None:
    """The network of a running cluster, found by tag (add-nodes in a later CLI run)."""
    pieces = ec2.find_network(cluster_filter(cluster))
    groups = ec2.security_groups_by_name(cluster_filter(cluster))
    controller, nodes = security_group_names(cluster)
    if not pieces.vpcs or controller not in groups or not pieces.route_tables:
        return None
    subnets = ec2.subnets_by_zone(cluster_filter(cluster))
    return Network(
        pieces.vpcs[0],
        pieces.route_tables[0][0],
        groups[controller],
        dict(subnets),
        groups.get(nodes, ""),
    )


@dataclass
class ClusterNetwork:
    """Makes the cluster's network, and its subnets zone by zone as launches need them."""

    ec2: Callable[[], Ec2]
    cluster: str
    allowed_cidr: str
    tags: Tags
    _network: Network | None = None
    _nat: bool | None = field(default=None)

    def create(self, recorder: Recorder) -> Network:
        """VPC, internet gateway, public route table and both security groups, each recorded."""
        ec2 = self.ec2()
        vpc = ec2.create_cluster_vpc(VPC_CIDR, self._tags("vpc"))
        recorder.record_resource(ResourceRecord("vpc", vpc, "network"))
        gateway = ec2.create_internet_gateway(vpc, self._tags("igw"))
        recorder.record_resource(ResourceRecord("internet-gateway", gateway, "internet gateway"))
        table = ec2.create_public_route_table(vpc, gateway, self._tags("routes"))
        recorder.record_resource(ResourceRecord("route-table", table, "route table"))
        controller_name, nodes_name = security_group_names(self.cluster)
        group = ec2.create_controller_security_group(
            vpc, controller_name, self.allowed_cidr, VPC_CIDR, self._tags("sg")
        )
        recorder.record_resource(ResourceRecord("security-group", group, "controller firewall"))
        nodes_group = ec2.create_nodes_security_group(
            vpc, nodes_name, VPC_CIDR, self._tags("nodes-sg")
        )
        recorder.record_resource(ResourceRecord("security-group", nodes_group, "nodes firewall"))
        self._network = Network(vpc, table, group, {}, nodes_group)
        return self._network

    def _tags(self, name: str) -> dict[str, str]:
        return self.tags("network", name)

    def subnet_in(self, zone: str, recorder: Recorder) -> str:
        """The cluster's subnet in ``zone``, made (and routed to the internet) when missing."""
        network = self.known()
        if zone in network.subnets:
            return network.subnets[zone]
        ec2 = self.ec2()
        cidr = subnet_cidr(len(network.subnets))
        subnet = ec2.create_cluster_subnet(network.vpc, cidr, zone, self._tags(f"subnet-{zone}"))
        recorder.record_resource(ResourceRecord("subnet", subnet, f"subnet in {zone}"))
        ec2.associate_route_table(network.route_table, subnet)
        network.subnets[zone] = subnet
        return subnet

    def known(self) -> Network:
        if self._network is None:
            found = find_cluster_network(self.ec2(), self.cluster)
            if found is None:
                raise ClusterousError(
                    f"the network of cluster {self.cluster!r} is gone",
                    "no VPC, subnet or security group carries its tag",
                    f"destroy it with 'clusterous destroy {self.cluster}' and create it again",
                )
            self._network = found
        return self._network

    def needs_public_ip(self, role: Role) -> bool:
        """The controller, for SSH; the others only when no NAT gateway routes them out."""
        if role == "controller":
            return True
        if self._nat is None:
            self._nat = self.ec2().routes_out_without_public_ip(self.known().route_table)
        return not self._nat
