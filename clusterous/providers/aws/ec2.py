"""The thin typed wrapper over the EC2 and SSM APIs, with methods named for the cluster's needs.

Every call goes through ``Ec2._call``, inside ``aws_errors``: callers see
ClusterousErrors only (DESIGN section 6), plus the two failures the provider
reacts to, ``CapacityError`` (try another zone, or on-demand) and
``QuotaError``. Deletes are idempotent: a thing already gone is success.
EC2 is eventually consistent: a resource made a moment ago may still be
"not found" by the next call, and a subnet or group may still be "in use" by
the network interface of an instance terminated a moment ago; both are waited
out here, within a deadline. Waits use the injected ``sleep``/``clock`` so
tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clusterous import cancel
from clusterous.aws.errors import aws_errors
from clusterous.errors import ClusterousError
from clusterous.providers.aws.clients import Clients
from clusterous.providers.aws.tags import CLUSTER_TAG, tag_spec, tags_of

ALIVE_STATES = ("pending", "running", "stopping", "stopped", "shutting-down")
DEBIAN_AMI_PARAMETER = "/aws/service/debian/release/12/latest/{arch}"
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
IN_USE_CODES = frozenset({"DependencyViolation"})
THROTTLING_CODES = frozenset({"RequestLimitExceeded", "Throttling", "ServiceUnavailable"})
THROTTLED_LAUNCH_ATTEMPTS = 10
STATUS_BATCH = 100
IAM_PROPAGATION_SECONDS = 120.0  # a new instance profile reaches EC2 within about a minute
IAM_RETRY_PAUSE = 5.0
SETTLE_SECONDS = 60.0  # a resource made a moment ago is visible to every call within this
IN_USE_SECONDS = 300.0  # network interfaces of terminated instances linger for minutes
CAPACITY_CODES = frozenset({"InsufficientInstanceCapacity", "Unsupported"})
SPOT_QUOTA_CODE = "MaxSpotInstanceCountExceeded"
QUOTAS = {
    "InstanceLimitExceeded": "Running On-Demand instances (EC2 service quota)",
    "VcpuLimitExceeded": "Running On-Demand vCPUs for this instance family (EC2 service quota)",
    SPOT_QUOTA_CODE: "All Standard Spot Instance Requests (EC2 service quota)",
}
REGULAR_ZONE = "availability-zone"  # not a Local Zone or a Wavelength Zone
CONTROLLER_GROUP_DESCRIPTION = "clusterous controller: SSH from the allowed range, all from the VPC"
NODES_GROUP_DESCRIPTION = "clusterous nodes: all traffic from within the VPC only"


class CapacityError(ClusterousError):
    """AWS has no capacity for an instance type in one availability zone right now."""

    def __init__(self, instance_type: str, zone: str, spot: bool, detail: str) -> None:
        self.instance_type = instance_type
        self.zone = zone
        self.spot = spot
        market = "spot" if spot else "on-demand"
        super().__init__(
            f"AWS has no {market} capacity for {instance_type} in {zone} right now",
            detail,
            "try again later, pick another instance type, or allow spot_fallback: on-demand",
        )


class QuotaError(ClusterousError):
    """An account quota stops the launch; ``spot`` when it is the quota of spot requests."""

    def __init__(
        self, quota: str, instance_type: str, region: str, detail: str, spot: bool = False
    ) -> None:
        self.quota = quota
        self.spot = spot
        super().__init__(
            f"launching {instance_type} in {region} exceeds your quota {quota!r}",
            detail,
            f"ask AWS for a higher limit in the Service Quotas console ({region}), "
            "or ask for fewer or smaller instances",
        )


@dataclass(frozen=True)
class TypeInfo:
    name: str
    vcpus: int
    memory_mib: int
    architecture: str  # x86_64 | arm64
    nitro: bool


@dataclass(frozen=True)
class Instance:
    id: str
    state: str
    instance_type: str
    zone: str
    launch_index: int
    private_ip: str = ""
    public_ip: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    key_name: str = ""
    spot: bool = False


@dataclass(frozen=True)
class Volume:
    id: str
    zone: str
    size_gib: int
    state: str
    attached_to: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LaunchSpec:
    """One run_instances call: ``count`` identical instances, all or nothing."""

    image_id: str
    instance_type: str
    count: int
    subnet_id: str
    zone: str
    security_group_id: str
    user_data: bytes
    tags: dict[str, str]
    root_device: str
    root_gib: int = 20
    key_name: str | None = None
    instance_profile: str | None = None
    spot: bool = False
    public_ip: bool = True
    instance_tags: dict[str, str] = field(default_factory=dict)  # on the instances only


@dataclass(frozen=True)
class NetworkPieces:
    """Everything network-like carrying one cluster's tag."""

    vpcs: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    route_tables: list[tuple[str, list[str]]] = field(default_factory=list)  # id, associations
    gateways: list[tuple[str, list[str]]] = field(default_factory=list)  # id, attached vpcs
    security_groups: list[str] = field(default_factory=list)


def error_code(problem: BaseException) -> str:
    response = getattr(problem, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class Ec2:
    """EC2 (and SSM, for the AMI) in the profile's region."""

    def __init__(
        self,
        clients: Clients,
        sleep: Callable[[float], None] = cancel.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = clients
        self.sleep = sleep
        self.clock = clock

    @property
    def region(self) -> str:
        return self.clients.region

    def _call(
        self,
        action: str,
        method: str,
        ignore: Iterable[str] = (),
        wait_out: Iterable[str] = (),
        patience: float = SETTLE_SECONDS,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One API call; error codes in ``ignore`` give an empty answer.

        Error codes in ``wait_out`` are retried with growing pauses for up to
        ``patience`` seconds: what a just-made or just-ended resource answers
        until EC2 has caught up with itself.
        """
        from botocore.exceptions import ClientError

        service = "ssm" if action.startswith("ssm:") else "ec2"
        deadline = self.clock() + patience
        pause = 1.0
        with aws_errors(action, region=self.region):
            while True:
                try:
                    answer: dict[str, Any] = getattr(self.clients.get(service), method)(**kwargs)
                    return answer
                except ClientError as problem:
                    code = error_code(problem)
                    if code in set(ignore):
                        return {}
                    if code not in set(wait_out) or self.clock() + pause > deadline:
                        raise
                self.sleep(pause)
                pause = min(2 * pause, 15.0)

    def _pages(self, action: str, method: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
        service = "ssm" if action.startswith("ssm:") else "ec2"
        found: list[dict[str, Any]] = []
        with aws_errors(action, region=self.region):
            paginator = self.clients.get(service).get_paginator(method)
            for page in paginator.paginate(**kwargs):
                found += page.get(key, [])
        return found

    # ------------------------------------------------------------ instance types and images

    def offered_type_names(self) -> set[str]:
        """Every instance type offered somewhere in the region."""
        offers = self._pages(
            "ec2:DescribeInstanceTypeOfferings",
            "describe_instance_type_offerings",
            "InstanceTypeOfferings",
            LocationType="region",
        )
        return {str(o["InstanceType"]) for o in offers}

    def describe_types(self, names: Sequence[str]) -> dict[str, TypeInfo]:
        if not names:
            return {}
        answer = self._call(
            "ec2:DescribeInstanceTypes", "describe_instance_types", InstanceTypes=list(names)
        )
        return {str(t["InstanceType"]): type_info(t) for t in answer.get("InstanceTypes", [])}

    def zones_offering(self, names: Sequence[str]) -> dict[str, set[str]]:
        """For each instance type, the availability zones that offer it."""
        offers = self._pages(
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
        answer = self._call(
            "ec2:DescribeAvailabilityZones",
            "describe_availability_zones",
            Filters=[{"Name": "state", "Values": ["available"]}],
        )
        return regular_zones(answer.get("AvailabilityZones", []))

    def debian_ami(self, architecture: str, parameter: str = DEBIAN_AMI_PARAMETER) -> str:
        """The AMI an SSM parameter names; ``{arch}`` in it becomes amd64 or arm64."""
        arch = "arm64" if architecture == "arm64" else "amd64"
        name = parameter.format(arch=arch)
        answer = self._call("ssm:GetParameter", "get_parameter", Name=name)
        return str(answer["Parameter"]["Value"])

    def root_device(self, image_id: str) -> str:
        answer = self._call("ec2:DescribeImages", "describe_images", ImageIds=[image_id])
        images = answer.get("Images", [])
        if not images:
            raise ClusterousError(f"the AMI {image_id} does not exist in {self.region}")
        return str(images[0].get("RootDeviceName") or "/dev/xvda")

    # ------------------------------------------------------------ network

    def create_cluster_vpc(self, cidr: str, tags: dict[str, str]) -> str:
        answer = self._call(
            "ec2:CreateVpc", "create_vpc", CidrBlock=cidr, TagSpecifications=tag_spec("vpc", tags)
        )
        vpc_id = str(answer["Vpc"]["VpcId"])
        for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
            setting: dict[str, Any] = {attribute: {"Value": True}}
            self._call(
                "ec2:ModifyVpcAttribute",
                "modify_vpc_attribute",
                wait_out=NOT_FOUND_CODES,
                VpcId=vpc_id,
                **setting,
            )
        return vpc_id

    def create_cluster_subnet(self, vpc_id: str, cidr: str, zone: str, tags: dict[str, str]) -> str:
        answer = self._call(
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
        answer = self._call(
            "ec2:CreateInternetGateway",
            "create_internet_gateway",
            TagSpecifications=tag_spec("internet-gateway", tags),
        )
        gateway = str(answer["InternetGateway"]["InternetGatewayId"])
        self._call(
            "ec2:AttachInternetGateway",
            "attach_internet_gateway",
            wait_out=NOT_FOUND_CODES,
            InternetGatewayId=gateway,
            VpcId=vpc_id,
        )
        return gateway

    def create_public_route_table(self, vpc_id: str, gateway: str, tags: dict[str, str]) -> str:
        answer = self._call(
            "ec2:CreateRouteTable",
            "create_route_table",
            wait_out=NOT_FOUND_CODES,
            VpcId=vpc_id,
            TagSpecifications=tag_spec("route-table", tags),
        )
        table = str(answer["RouteTable"]["RouteTableId"])
        self._call(
            "ec2:CreateRoute",
            "create_route",
            wait_out=NOT_FOUND_CODES,
            RouteTableId=table,
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=gateway,
        )
        return table

    def associate_route_table(self, table: str, subnet_id: str) -> None:
        self._call(
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
        answer = self._call(
            "ec2:CreateSecurityGroup",
            "create_security_group",
            wait_out=NOT_FOUND_CODES,
            GroupName=name,
            Description=description,
            VpcId=vpc_id,
            TagSpecifications=tag_spec("security-group", tags),
        )
        group = str(answer["GroupId"])
        self._call(
            "ec2:AuthorizeSecurityGroupIngress",
            "authorize_security_group_ingress",
            wait_out=NOT_FOUND_CODES,
            GroupId=group,
            IpPermissions=permissions,
        )
        return group

    def routes_out_without_public_ip(self, table: str) -> bool:
        """Whether the route table sends internet traffic through a NAT gateway."""
        answer = self._call(
            "ec2:DescribeRouteTables",
            "describe_route_tables",
            wait_out=NOT_FOUND_CODES,
            RouteTableIds=[table],
        )
        routes = [r for t in answer.get("RouteTables", []) for r in t.get("Routes", [])]
        return any(
            r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("NatGatewayId") for r in routes
        )

    # ------------------------------------------------------------ instances

    def run_cluster_instances(self, spec: LaunchSpec) -> list[Instance]:
        """One run_instances for the whole batch (MinCount = MaxCount = count)."""
        from botocore.exceptions import ClientError

        with aws_errors("ec2:RunInstances", region=self.region, resource=spec.instance_type):
            try:
                answer = self._run_retrying_iam(spec)
            except ClientError as problem:
                failure = self._launch_failure(problem, spec)
                if failure is None:
                    raise
                raise failure from problem
        return [instance_of(i) for i in answer.get("Instances", [])]

    def _run_retrying_iam(self, spec: LaunchSpec) -> dict[str, Any]:
        """RunInstances, retried here rather than by botocore.

        botocore would retry InsufficientInstanceCapacity (an HTTP 500) ten
        times with growing pauses; the provider wants it at once, to try another
        zone. Throttling is retried here a few times; a fresh instance profile
        that EC2 does not know yet (IAM takes seconds to propagate), or a subnet
        or group EC2 does not see yet, until a deadline.
        """
        from botocore.exceptions import ClientError

        client = self.clients.get("ec2", attempts=1)
        deadline = self.clock() + IAM_PROPAGATION_SECONDS
        throttled = 0
        while True:
            try:
                answer: dict[str, Any] = client.run_instances(**run_arguments(spec))
                return answer
            except ClientError as problem:
                if error_code(problem) in THROTTLING_CODES:
                    throttled += 1
                    if throttled >= THROTTLED_LAUNCH_ATTEMPTS:
                        raise
                    self.sleep(min(20.0, 0.5 * 2**throttled))
                elif not_ready_yet(problem) and self.clock() + IAM_RETRY_PAUSE <= deadline:
                    self.sleep(IAM_RETRY_PAUSE)
                else:
                    raise

    def _launch_failure(self, problem: Exception, spec: LaunchSpec) -> ClusterousError | None:
        code = error_code(problem)
        detail = str(getattr(problem, "response", {}).get("Error", {}).get("Message", ""))
        if code in CAPACITY_CODES:
            return CapacityError(spec.instance_type, spec.zone, spec.spot, detail)
        if code in QUOTAS:
            spot = code == SPOT_QUOTA_CODE
            return QuotaError(QUOTAS[code], spec.instance_type, self.region, detail, spot)
        return None

    def wait_running(self, ids: Sequence[str], deadline: float) -> list[Instance]:
        """Poll until every instance is running (addresses assigned)."""
        while True:
            found = self.describe_instances(ids)
            states = {i.state for i in found}
            if len(found) == len(ids) and states == {"running"}:
                return found
            dead = [i.id for i in found if i.state in ("terminated", "shutting-down")]
            if dead:
                raise ClusterousError(
                    f"instances stopped right after launch: {', '.join(dead)}",
                    "AWS terminated them (a spot interruption, or a bad image)",
                    "see the EC2 console's state-transition reason, then create again",
                )
            if self.clock() >= deadline:
                raise ClusterousError(
                    "instances did not reach the running state in time",
                    ", ".join(f"{i.id}: {i.state}" for i in found),
                    "raise --timeout, or look at them in the EC2 console",
                )
            self.sleep(2)

    def describe_instances(self, ids: Sequence[str]) -> list[Instance]:
        if not ids:
            return []
        reservations = self._pages(
            "ec2:DescribeInstances",
            "describe_instances",
            "Reservations",
            Filters=[{"Name": "instance-id", "Values": list(ids)}],
        )
        return [instance_of(i) for r in reservations for i in r.get("Instances", [])]

    def instance_states(self, ids: Sequence[str]) -> dict[str, str]:
        """States only (a much smaller answer than describe_instances, for polling)."""
        states: dict[str, str] = {}
        for start in range(0, len(ids), STATUS_BATCH):
            chunk = list(ids[start : start + STATUS_BATCH])
            answer = self._call(
                "ec2:DescribeInstanceStatus",
                "describe_instance_status",
                ignore={"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"},
                InstanceIds=chunk,
                IncludeAllInstances=True,
            )
            if not answer:  # one id is long gone: ask the slow way, which tolerates it
                states.update({i.id: i.state for i in self.describe_instances(chunk)})
                continue
            for status in answer.get("InstanceStatuses", []):
                states[str(status["InstanceId"])] = str(status["InstanceState"]["Name"])
        return states

    def tagged_instance_ids(self, cluster: str) -> list[str]:
        """Ids of the cluster's instances from their tags alone (a small answer)."""
        tags = self._pages(
            "ec2:DescribeTags",
            "describe_tags",
            "Tags",
            Filters=[
                {"Name": "resource-type", "Values": ["instance"]},
                {"Name": "key", "Values": [CLUSTER_TAG]},
                {"Name": "value", "Values": [cluster]},
            ],
        )
        return sorted({str(t["ResourceId"]) for t in tags})

    def find_instances(
        self, filters: list[dict[str, Any]], states: Sequence[str] = ALIVE_STATES
    ) -> list[Instance]:
        reservations = self._pages(
            "ec2:DescribeInstances",
            "describe_instances",
            "Reservations",
            Filters=[*filters, {"Name": "instance-state-name", "Values": list(states)}],
        )
        return [instance_of(i) for r in reservations for i in r.get("Instances", [])]

    def terminate_instances(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), 500):
            self._call(
                "ec2:TerminateInstances",
                "terminate_instances",
                ignore=GONE_CODES,
                InstanceIds=list(ids[start : start + 500]),
            )

    def wait_terminated(self, ids: Sequence[str], deadline: float) -> list[str]:
        """Poll until every instance is terminated; returns those that are not."""
        waiting = list(ids)
        while waiting:
            states = self.instance_states(waiting)
            waiting = [i for i in waiting if states.get(i, "terminated") != "terminated"]
            if not waiting or self.clock() >= deadline:
                break
            self.sleep(3)
        return waiting

    # ------------------------------------------------------------ volumes

    def create_shared_volume(self, zone: str, size_gib: int, tags: dict[str, str]) -> str:
        answer = self._call(
            "ec2:CreateVolume",
            "create_volume",
            AvailabilityZone=zone,
            Size=size_gib,
            VolumeType="gp3",
            Encrypted=True,
            TagSpecifications=tag_spec("volume", tags),
        )
        return str(answer["VolumeId"])

    def describe_volume(self, volume_id: str) -> Volume | None:
        answer = self._call(
            "ec2:DescribeVolumes",
            "describe_volumes",
            ignore={"InvalidVolume.NotFound", "InvalidParameterValue"},
            VolumeIds=[volume_id],
        )
        volumes = answer.get("Volumes", [])
        return volume_of(volumes[0]) if volumes else None

    def find_volumes(self, filters: list[dict[str, Any]]) -> list[Volume]:
        found = self._pages("ec2:DescribeVolumes", "describe_volumes", "Volumes", Filters=filters)
        return [volume_of(v) for v in found]

    def wait_volume(self, volume_id: str, state: str, deadline: float) -> None:
        while True:
            volume = self.describe_volume(volume_id)
            if volume is None or volume.state == state:
                return
            if self.clock() >= deadline:
                raise ClusterousError(
                    f"volume {volume_id} did not become {state} in time",
                    f"it is {volume.state}",
                    "look at it in the EC2 console, then run the command again",
                )
            self.sleep(2)

    def attach_volume(self, volume_id: str, instance_id: str, device: str) -> None:
        self._call(
            "ec2:AttachVolume",
            "attach_volume",
            wait_out=NOT_FOUND_CODES,
            VolumeId=volume_id,
            InstanceId=instance_id,
            Device=device,
        )

    def detach_volume(self, volume_id: str, instance_id: str) -> None:
        self._call(
            "ec2:DetachVolume",
            "detach_volume",
            ignore=GONE_CODES | {"InvalidAttachment.NotFound", "IncorrectState"},
            VolumeId=volume_id,
            InstanceId=instance_id,
        )

    def tag_volume(self, volume_id: str, tags: dict[str, str]) -> None:
        self._call(
            "ec2:CreateTags",
            "create_tags",
            Resources=[volume_id],
            Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        )

    def delete_volume(self, volume_id: str) -> None:
        self._call("ec2:DeleteVolume", "delete_volume", ignore=GONE_CODES, VolumeId=volume_id)

    # ------------------------------------------------------------ finding and deleting network

    def find_network(self, filters: list[dict[str, Any]]) -> NetworkPieces:
        vpcs = self._pages("ec2:DescribeVpcs", "describe_vpcs", "Vpcs", Filters=filters)
        subnets = self._pages("ec2:DescribeSubnets", "describe_subnets", "Subnets", Filters=filters)
        tables = self._pages(
            "ec2:DescribeRouteTables", "describe_route_tables", "RouteTables", Filters=filters
        )
        gateways = self._pages(
            "ec2:DescribeInternetGateways",
            "describe_internet_gateways",
            "InternetGateways",
            Filters=filters,
        )
        groups = self._pages(
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
        vpcs = self._pages("ec2:DescribeVpcs", "describe_vpcs", "Vpcs", Filters=filters)
        return [tags_of(v).get("clusterous:cluster", "") for v in vpcs]

    def security_groups_by_name(self, filters: list[dict[str, Any]]) -> dict[str, str]:
        groups = self._pages(
            "ec2:DescribeSecurityGroups",
            "describe_security_groups",
            "SecurityGroups",
            Filters=filters,
        )
        return {str(g["GroupName"]): str(g["GroupId"]) for g in groups}

    def vpc_cidrs(self, filters: list[dict[str, Any]]) -> list[str]:
        vpcs = self._pages("ec2:DescribeVpcs", "describe_vpcs", "Vpcs", Filters=filters)
        return [str(v.get("CidrBlock", "")) for v in vpcs]

    def subnets_by_zone(self, filters: list[dict[str, Any]]) -> dict[str, str]:
        subnets = self._pages("ec2:DescribeSubnets", "describe_subnets", "Subnets", Filters=filters)
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
        self._call(
            action,
            method,
            ignore=GONE_CODES | set(also_gone),
            wait_out=IN_USE_CODES,
            patience=IN_USE_SECONDS,
            **kwargs,
        )


def not_ready_yet(problem: Exception) -> bool:
    """A launch refused for what was made a moment ago: the instance profile, subnet, group."""
    code = error_code(problem)
    message = str(problem).lower()
    iam = code == "InvalidParameterValue" and (
        "iaminstanceprofile" in message or "instance profile" in message
    )
    return iam or code in NOT_FOUND_CODES


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


def instance_of(raw: dict[str, Any]) -> Instance:
    return Instance(
        id=str(raw["InstanceId"]),
        state=str(raw.get("State", {}).get("Name", "pending")),
        instance_type=str(raw.get("InstanceType", "")),
        zone=str(raw.get("Placement", {}).get("AvailabilityZone", "")),
        launch_index=int(raw.get("AmiLaunchIndex", 0)),
        private_ip=str(raw.get("PrivateIpAddress") or ""),
        public_ip=str(raw.get("PublicIpAddress") or ""),
        tags=tags_of(raw),
        key_name=str(raw.get("KeyName") or ""),
        spot=raw.get("InstanceLifecycle") == "spot",
    )


def volume_of(raw: dict[str, Any]) -> Volume:
    return Volume(
        id=str(raw["VolumeId"]),
        zone=str(raw.get("AvailabilityZone", "")),
        size_gib=int(raw.get("Size", 0)),
        state=str(raw.get("State", "")),
        attached_to=tuple(
            str(a["InstanceId"])
            for a in raw.get("Attachments", [])
            if a.get("State") in ("attaching", "attached")
        ),
        tags=tags_of(raw),
    )


def run_arguments(spec: LaunchSpec) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "ImageId": spec.image_id,
        "InstanceType": spec.instance_type,
        "MinCount": spec.count,
        "MaxCount": spec.count,
        "UserData": spec.user_data,
        "InstanceInitiatedShutdownBehavior": "terminate",  # the lease ends a node by shutdown
        "NetworkInterfaces": [
            {
                "DeviceIndex": 0,
                "SubnetId": spec.subnet_id,
                "Groups": [spec.security_group_id],
                "AssociatePublicIpAddress": spec.public_ip,
                "DeleteOnTermination": True,
            }
        ],
        "BlockDeviceMappings": [
            {
                "DeviceName": spec.root_device,
                "Ebs": {
                    "VolumeSize": spec.root_gib,
                    "VolumeType": "gp3",
                    "DeleteOnTermination": True,
                },
            }
        ],
        "MetadataOptions": {
            "HttpTokens": "required",  # IMDSv2 only
            "HttpPutResponseHopLimit": 1,  # bridged containers get no role credentials
            "HttpEndpoint": "enabled",
        },
        "TagSpecifications": [
            *tag_spec("instance", {**spec.tags, **spec.instance_tags}),
            *tag_spec("volume", {**spec.tags, "clusterous:role": "root-disk"}),
        ],
    }
    if spec.key_name:
        arguments["KeyName"] = spec.key_name
    if spec.instance_profile:
        arguments["IamInstanceProfile"] = {"Name": spec.instance_profile}
    if spec.spot:
        arguments["InstanceMarketOptions"] = {
            "MarketType": "spot",
            "SpotOptions": {
                "SpotInstanceType": "one-time",
                "InstanceInterruptionBehavior": "terminate",
            },
        }
    return arguments
