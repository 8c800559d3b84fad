"""The cluster's network: VPC, subnets, internet gateway, route table, security groups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clusterous.aws.ec2.common import GONE_CODES, NOT_FOUND_CODES, Ec2Api
from clusterous.aws.tags import CLUSTER_TAG, tag_spec, tags_of

IN_USE_CODES = frozenset({"DependencyViolation"})
IN_USE_SECONDS = 300.0  # network interfaces of terminated instances linger for minutes
CONTROLLER_GROUP_DESCRIPTION = "clusterous controller: SSH from the allowed range, all from the VPC"
NODES_GROUP_DESCRIPTION = "clusterous nodes: all traffic from within the VPC only"


@dataclass(frozen=True)
class NetworkPieces:
    """Everything network-like carrying one cluster's tag."""

    vpcs: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    route_tables: list[tuple[str, list[str]]] = field(default_factory=list)  # id, associations
    gateways: list[tuple[str, list[str]]] = field(default_factory=list)  # id, attached vpcs
    security_groups: list[str] = field(default_factory=list)


class NetworkCalls(Ec2Api):
    def create_cluster_vpc(self, cidr: str, tags: dict[str, str]) -> str:
        answer = self.clients.call(
            "ec2:CreateVpc", "create_vpc", CidrBlock=cidr, TagSpecifications=tag_spec("vpc", tags)
        )
        vpc_id = str(answer["Vpc"]["VpcId"])
        for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
            setting: dict[str, Any] = {attribute: {"Value": True}}
            self.clients.call(
                "ec2:ModifyVpcAttribute",
                "modify_vpc_attribute",
                wait_out=NOT_FOUND_CODES,
                VpcId=vpc_id,
                **setting,
            )
        return vpc_id

    def create_cluster_subnet(self, vpc_id: str, cidr: str, zone: str, tags: dict[str, str]) -> str:
        answer = self.clients.call(
            "ec2:CreateSubnet",
            "create_subnet",
            wait_out=NOT_FOUND_CODES,
            VpcId=vpc_id,
            CidrBlock=cidr,
            AvailabilityZone=zone,
            TagSpecifications=tag_spec("subnet", tags),
        )
        return str(answer["Subnet"]["SubnetId"])

    def create_internet_gateway(self, vpc_id: str, tags: dict[str, str]) -> str:
        answer = self.clients.call(
            "ec2:CreateInternetGateway",
            "create_internet_gateway",
            TagSpecifications=tag_spec("internet-gateway", tags),
        )
        gateway = str(answer["InternetGateway"]["InternetGatewayId"])
        self.clients.call(
            "ec2:AttachInternetGateway",
            "attach_internet_gateway",
            wait_out=NOT_FOUND_CODES,
            InternetGatewayId=gateway,
            VpcId=vpc_id,
        )
        return gateway

    def create_public_route_table(self, vpc_id: str, gateway: str, tags: dict[str, str]) -> str:
        answer = self.clients.call(
            "ec2:CreateRouteTable",
            "create_route_table",
            wait_out=NOT_FOUND_CODES,
            VpcId=vpc_id,
            TagSpecifications=tag_spec("route-table", tags),
        )
        table = str(answer["RouteTable"]["RouteTableId"])
        self.clients.call(
            "ec2:CreateRoute",
            "create_route",
            wait_out=NOT_FOUND_CODES,
            RouteTableId=table,
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=gateway,
        )
        return table

    def associate_route_table(self, table: str, subnet_id: str) -> None:
        self.clients.call(
            "ec2:AssociateRouteTable",
            "associate_route_table",
            wait_out=NOT_FOUND_CODES,
            RouteTableId=table,
            SubnetId=subnet_id,
        )

    def create_controller_security_group(
        self, vpc_id: str, name: str, ssh_cidr: str, vpc_cidr: str, tags: dict[str, str]
    ) -> str:
        """SSH from ``ssh_cidr`` only; every protocol from within the VPC."""
        return self._security_group(
            vpc_id,
            name,
            CONTROLLER_GROUP_DESCRIPTION,
            tags,
            [ssh_permission(ssh_cidr), vpc_permission(vpc_cidr)],
        )

    def create_nodes_security_group(
        self, vpc_id: str, name: str, vpc_cidr: str, tags: dict[str, str]
    ) -> str:
        """Every protocol from within the VPC, nothing from outside (no SSH: via the controller)."""
        return self._security_group(
            vpc_id, name, NODES_GROUP_DESCRIPTION, tags, [vpc_permission(vpc_cidr)]
        )

    def _security_group(
        self,
        vpc_id: str,
        name: str,
        description: str,
        tags: dict[str, str],
        permissions: list[dict[str, Any]],
    ) -> str:
        answer = self.clients.call(
            "ec2:CreateSecurityGroup",
            "create_security_group",
            wait_out=NOT_FOUND_CODES,
            GroupName=name,
            Description=description,
            VpcId=vpc_id,
            TagSpecifications=tag_spec("security-group", tags),
        )
        group = str(answer["GroupId"])
        self.clients.call(
            "ec2:AuthorizeSecurityGroupIngress",
            "authorize_security_group_ingress",
            wait_out=NOT_FOUND_CODES,
            GroupId=group,
            IpPermissions=permissions,
        )
        return group

    def routes_out_without_public_ip(self, table: str) -> bool:
        """Whether the route table sends internet traffic through a NAT gateway."""
        answer = self.clients.call(
            "ec2:DescribeRouteTables",
            "describe_route_tables",
            wait_out=NOT_FOUND_CODES,
            RouteTableIds=[table],
        )
        routes = [r for t in answer.get("RouteTables", []) for r in t.get("Routes", [])]
        return any(
            r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("NatGatewayId") for r in routes
        )

    def vpc_tags(self, filters: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
        """Each VPC the filters match, with its tags."""
        vpcs = self.clients.pages("ec2:DescribeVpcs", "describe_vpcs", "Vpcs", Filters=filters)
        return {str(v["VpcId"]): tags_of(v) for v in vpcs}

    def find_network(self, filters: list[dict[str, Any]]) -> NetworkPieces:
        vpcs = self.clients.pages("ec2:DescribeVpcs", "describe_vpcs", "Vpcs", Filters=filters)
        subnets = self.clients.pages(
            "ec2:DescribeSubnets", "describe_subnets", "Subnets", Filters=filters
        )
        tables = self.clients.pages(
            "ec2:DescribeRouteTables", "describe_route_tables", "RouteTables", Filters=filters
        )
        gateways = self.clients.pages(
            "ec2:DescribeInternetGateways",
            "describe_internet_gateways",
            "InternetGateways",
            Filters=filters,
        )
        groups = self.clients.pages(
            "ec2:DescribeSecurityGroups",
            "describe_security_groups",
            "SecurityGroups",
            Filters=filters,
        )
        return NetworkPieces(
            vpcs=[str(v["VpcId"]) for v in vpcs],
            subnets=[str(s["SubnetId"]) for s in subnets],
            route_tables=[
                (
                    str(t["RouteTableId"]),
                    [
                        str(a["RouteTableAssociationId"])
                        for a in t.get("Associations", [])
                        if not a.get("Main")
                    ],
                )
                for t in tables
            ],
            gateways=[
                (str(g["InternetGatewayId"]), [str(a["VpcId"]) for a in g.get("Attachments", [])])
                for g in gateways
            ],
            security_groups=[str(g["GroupId"]) for g in groups],
        )

    def vpc_cluster_names(self, filters: list[dict[str, Any]]) -> list[str]:
        vpcs = self.clients.pages("ec2:DescribeVpcs", "describe_vpcs", "Vpcs", Filters=filters)
        return [tags_of(v).get(CLUSTER_TAG, "") for v in vpcs]

    def security_groups_by_name(self, filters: list[dict[str, Any]]) -> dict[str, str]:
        groups = self.clients.pages(
            "ec2:DescribeSecurityGroups",
            "describe_security_groups",
            "SecurityGroups",
            Filters=filters,
        )
        return {str(g["GroupName"]): str(g["GroupId"]) for g in groups}

    def vpc_cidrs(self, filters: list[dict[str, Any]]) -> list[str]:
        vpcs = self.clients.pages("ec2:DescribeVpcs", "describe_vpcs", "Vpcs", Filters=filters)
        return [str(v.get("CidrBlock", "")) for v in vpcs]

    def subnets_by_zone(self, filters: list[dict[str, Any]]) -> dict[str, str]:
        subnets = self.clients.pages(
            "ec2:DescribeSubnets", "describe_subnets", "Subnets", Filters=filters
        )
        return {str(s["AvailabilityZone"]): str(s["SubnetId"]) for s in subnets}

    def delete_security_group(self, group_id: str) -> None:
        self._delete("ec2:DeleteSecurityGroup", "delete_security_group", GroupId=group_id)

    def delete_subnet(self, subnet_id: str) -> None:
        self._delete("ec2:DeleteSubnet", "delete_subnet", SubnetId=subnet_id)

    def delete_route_table(self, table: str, associations: Sequence[str]) -> None:
        for association in associations:
            self._delete(
                "ec2:DisassociateRouteTable", "disassociate_route_table", AssociationId=association
            )
        self._delete("ec2:DeleteRouteTable", "delete_route_table", RouteTableId=table)

    def delete_internet_gateway(self, gateway: str, vpcs: Sequence[str]) -> None:
        """Detach (public addresses of ended instances may hold it a while), then delete."""
        for vpc in vpcs:
            self._delete(
                "ec2:DetachInternetGateway",
                "detach_internet_gateway",
                also_gone={"Gateway.NotAttached"},
                InternetGatewayId=gateway,
                VpcId=vpc,
            )
        self._delete(
            "ec2:DeleteInternetGateway", "delete_internet_gateway", InternetGatewayId=gateway
        )

    def delete_vpc(self, vpc_id: str) -> None:
        self._delete("ec2:DeleteVpc", "delete_vpc", VpcId=vpc_id)

    def _delete(
        self, action: str, method: str, also_gone: Iterable[str] = (), **kwargs: Any
    ) -> None:
        """A delete that succeeds only when AWS accepted it, or the thing is already gone.

        "In use" (DependencyViolation) is waited out: the network interfaces of
        instances terminated a moment ago hold their subnet and group a while.
        """
        self.clients.call(
            action,
            method,
            ignore=GONE_CODES | set(also_gone),
            wait_out=IN_USE_CODES,
            patience=IN_USE_SECONDS,
            **kwargs,
        )


def ssh_permission(cidr: str) -> dict[str, Any]:
    return {
        "IpProtocol": "tcp",
        "FromPort": 22,
        "ToPort": 22,
        "IpRanges": [{"CidrIp": cidr, "Description": "SSH from the allowed range"}],
    }


def vpc_permission(vpc_cidr: str) -> dict[str, Any]:
    return {
        "IpProtocol": "-1",
        "IpRanges": [{"CidrIp": vpc_cidr, "Description": "within the cluster VPC"}],
    }
