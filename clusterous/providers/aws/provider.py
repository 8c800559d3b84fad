"""The AWS provider: a cluster as a tagged VPC, EC2 instances, a gp3 volume and an IAM role.

It implements the Provider interface with the ``Ec2`` and ``Iam`` wrappers.
Every resource is tagged as it is created and reported to the ledger at once;
nodes configure themselves from user-data, one ``run_instances`` per group.
Only the controller is open to SSH (from the profile's allowed range); the
other nodes accept traffic from within the VPC only. Teardown is ``sweep`` (in
``sweep.py``): ledger plus everything found by tag, in dependency order, then a
re-listing. ``adopt`` rebuilds a ledger from the tags alone ('workon' on
another machine), pinning the host keys the instances carry in a tag.
"""

from __future__ import annotations

import difflib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from clusterous import cancel
from clusterous.aws.clients import Clients
from clusterous.aws.ec2 import (
    DEBIAN_AMI_PARAMETER,
    CapacityError,
    Ec2,
    Instance,
    LaunchSpec,
    QuotaError,
    TypeInfo,
)
from clusterous.aws.iam import Iam, registry_prefix, role_name
from clusterous.aws.pricing import PRICING_REGION, PriceBook
from clusterous.aws.tags import (
    CLUSTER_ID_TAG,
    CLUSTER_TAG,
    FIRST_INDEX_TAG,
    GROUP_TAG,
    HOST_KEY_TAG,
    ROLE_TAG,
    SPOT_FALLBACK_TAG,
    SPOT_TAG,
    TAG_VALUE_LIMIT,
    any_cluster_filter,
    cluster_filter,
    cluster_tags,
)
from clusterous.errors import ClusterousError, InputError
from clusterous.home import Home
from clusterous.node.userdata import user_data
from clusterous.providers.base import (
    InstanceType,
    Leftover,
    NetworkInfo,
    NodeRequest,
    NodeView,
    Recorder,
    Report,
    Role,
    SweepReport,
    launches,
    record_nodes,
)
from clusterous.records import ClusterState, GroupMarket, NodeRecord, ResourceRecord
from clusterous.remote.keys import KeyPair

if TYPE_CHECKING:
    from clusterous.aws.session import AwsSession
    from clusterous.config import Profile

VPC_CIDR = "10.0.0.0/16"
IAM_KINDS = {"role": "iam-role", "instance-profile": "instance-profile"}
SWARM_ADDR_POOL = "10.200.0.0/16"  # outside the VPC: overlay networks never shadow nodes
DEFAULT_TYPES: dict[Role, str] = {"controller": "t3.medium", "node": "t3.medium"}
DEFAULT_VOLUME_GIB = 20
LAUNCH_TIMEOUT = 600.0
PRICING_ATTEMPTS = 2  # a price is a courtesy: never keep the user waiting for it
PUBLIC_IPV4_HOURLY_USD = 0.005  # AWS's price of any public IPv4 address, since February 2024
S3_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


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


def subnet_cidr(index: int) -> str:
    """10.0.0.0/20, 10.0.16.0/20, ...: one per availability zone used."""
    return f"10.0.{index * 16}.0/20"


def security_group_names(cluster: str) -> tuple[str, str]:
    """The GroupNames of the controller's and the other nodes' security groups."""
    return f"clusterous-{cluster}", f"clusterous-{cluster}-nodes"


def registry_endpoint(region: str, environ: Mapping[str, str]) -> str:
    """Where the registry on the controller finds S3.

    Debian 12's docker-registry (2.8) refuses a region newer than its own AWS
    SDK unless it is given the endpoint, so it always is: the region's S3
    endpoint, or the S3-compatible one this CLI itself is pointed at.
    """
    for variable in S3_ENDPOINT_VARIABLES:
        if environ.get(variable):
            return str(environ[variable])
    suffix = ".amazonaws.com.cn" if region.startswith("cn-") else ".amazonaws.com"
    return f"https://s3.{region}{suffix}"


def shared_device(volume_id: str, nitro: bool) -> str:
    """Where the attached volume appears: by its id on Nitro (NVMe), /dev/xvdf on Xen."""
    if nitro:
        return f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{volume_id.replace('-', '')}"
    return "/dev/xvdf"


class AwsProvider:
    name = "aws"

    def __init__(
        self,
        cluster: str,
        home: Home,
        profile: Profile,
        session: Callable[[], AwsSession] | None = None,
        sleep: Callable[[float], None] = cancel.sleep,
        clock: Callable[[], float] = time.monotonic,
        image_parameter: str = DEBIAN_AMI_PARAMETER,
    ) -> None:
        self.cluster = cluster
        self.cluster_id = ""  # the ownership id tagged on everything made; set from the ledger
        self.image_parameter = image_parameter
        self.home = home
        self.profile = profile
        self._session_factory = session
        self.sleep = sleep
        self.clock = clock
        self._clients: Clients | None = None
        self._types: dict[str, TypeInfo] = {}
        self._zones: dict[str, set[str]] = {}
        self._network: Network | None = None
        self._volume: str | None = None
        self._controller_zone: str | None = None
        self._amis: dict[str, tuple[str, str]] = {}
        self._nat: bool | None = None
        self._host_keys: dict[str, str] = {}  # node name -> pinned public key (workon)

    # -- plumbing -----------------------------------------------------------------

    @property
    def clients(self) -> Clients:
        if self._clients is None:
            if self._session_factory is not None:
                session = self._session_factory()
            else:
                from clusterous.aws.session import session_for

                session = session_for(self.profile)
            self._clients = Clients(session, self.sleep, self.clock)
        return self._clients

    @property
    def region(self) -> str:
        return self.clients.region

    @property
    def ec2(self) -> Ec2:
        return Ec2(self.clients)

    @property
    def iam(self) -> Iam:
        return Iam(self.clients)

    @property
    def identity_name(self) -> str:
        return role_name(self.cluster, self.region)

    def _tags(self, role: str, name: str, **extra: str) -> dict[str, str]:
        full_name = f"clusterous-{self.cluster}-{name}"
        return cluster_tags(self.cluster, role, full_name, self.cluster_id, **extra)

    # -- checks ---------------------------------------------------------------------

    def preflight(self) -> None:
        """Settings the cluster cannot do without, then credentials (one STS call)."""
        if not self.profile.allowed_cidr:
            raise InputError(
                f"profile {self.profile.name!r} sets no allowed_cidr",
                "SSH is opened only to your own address range, and none is known",
                f"run 'clusterous setup --profile-name {self.profile.name} --allowed-cidr "
                "A.B.C.D/32'",
            )
        if ":" in self.profile.allowed_cidr:
            raise InputError(
                f"profile {self.profile.name!r} allows SSH from an IPv6 range, "
                f"{self.profile.allowed_cidr}",
                "the cluster's network is IPv4 only",
                f"run 'clusterous setup --profile-name {self.profile.name} --allowed-cidr "
                "A.B.C.D/32' with your IPv4 address",
            )
        if not self.profile.bucket:
            raise InputError(
                f"profile {self.profile.name!r} sets no bucket for the image registry",
                None,
                f"run 'clusterous setup --profile-name {self.profile.name}'",
            )
        from clusterous.aws.account import AwsAccount

        identity = AwsAccount(self.clients.session).caller_identity()
        self._check_bucket(str(self.profile.bucket), identity.account)

    def _check_bucket(self, bucket: str, account: str) -> None:
        """The registry's bucket must exist and be this account's (names are global)."""
        from botocore.exceptions import ClientError

        from clusterous.aws.errors import BucketTakenError, aws_errors, error_code

        with aws_errors("s3:ListBucket", region=self.region, resource=bucket):
            try:
                self.clients.get("s3").head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
                return
            except ClientError as problem:
                code = error_code(problem)
                if code not in ("403", "404", "AccessDenied", "NoSuchBucket", "NotFound"):
                    raise
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise InputError(
                f"the registry bucket {bucket!r} of profile {self.profile.name!r} does not exist",
                None,
                f"run 'clusterous setup --profile-name {self.profile.name}' to create it",
            )
        raise BucketTakenError(
            f"the S3 bucket {bucket!r} belongs to another AWS account",
            "the cluster's image registry must store its images in a bucket of yours",
            f"choose another with 'clusterous setup --profile-name {self.profile.name} "
            "--bucket NAME'",
        )

    def instance_types(self) -> dict[str, InstanceType]:
        book = PriceBook(
            lambda: self.clients.get("pricing", PRICING_REGION, attempts=PRICING_ATTEMPTS),
            self.region,
            self.home.cache_dir,
        )
        return {
            name: InstanceType(name, info.vcpus, info.memory_mib, book.hourly(name))
            for name, info in self._types.items()
        }

    def default_instance_type(self, role: Role) -> str:
        if role == "node" and self.profile.default_instance_type:
            return self.profile.default_instance_type
        return DEFAULT_TYPES[role]

    def image_of(self, instance_type: str) -> str:
        """The AMI nodes of this type boot (dry-run display)."""
        info = self._types.get(instance_type)
        return self._image_for(info.architecture)[0] if info else "?"

    def describe_resources(self, size_gib: int | None, volume_id: str | None) -> list[str]:
        volume = (
            f"your EBS volume {volume_id}, used as it is (never formatted or deleted)"
            if volume_id
            else f"a new gp3 EBS volume of {size_gib or DEFAULT_VOLUME_GIB} GiB"
        )
        return [
            f"network: VPC {VPC_CIDR} with one public subnet and an internet gateway; SSH to "
            f"the controller from {self.profile.allowed_cidr} only, the other nodes reachable "
            "from within the VPC only",
            "public IPv4 addresses: one per node (the controller for SSH, the others to reach "
            f"the Debian mirror and S3), ${PUBLIC_IPV4_HOURLY_USD:.3f} per address-hour "
            f"(about ${PUBLIC_IPV4_HOURLY_USD * 730:.2f} a month each)",
            f"controller role: IAM role limited to the registry bucket {self.profile.bucket}",
            f"shared volume: {volume}, attached to the controller and shared over NFS at /data",
        ]

    def check_instance_types(self, names: Sequence[str]) -> None:
        """Known in the region, offered in some zone, and one zone offering them all."""
        wanted = sorted(set(names) - set(self._types))
        if not wanted:
            return
        offered = self.ec2.offered_type_names()
        for name in wanted:
            if name not in offered:
                raise unknown_instance_type(name, offered, self.region)
        self._types.update(self.ec2.describe_types(wanted))
        zones = self.ec2.zones_offering(wanted)
        for name in wanted:
            if not zones.get(name):
                raise InputError(
                    f"instance type {name} is offered in no availability zone of {self.region}",
                    None,
                    "pick another instance type, or another region",
                )
        self._zones.update(zones)

    def _zones_for(self, types: Sequence[str]) -> list[str]:
        common = set.intersection(*(self._zones[t] for t in types)) if types else set()
        return sorted(common)

    def owner_ids(self) -> dict[str, list[str]]:
        """Each ownership id on the cluster's instances ("" when none), with the instances."""
        found: dict[str, list[str]] = {}
        for instance in self.ec2.find_instances(cluster_filter(self.cluster)):
            owner = instance.tags.get(CLUSTER_ID_TAG, "")
            found.setdefault(owner, []).append(f"instance {instance.id}")
        return found

    def find_existing(self) -> list[str]:
        found = [f"instance {i.id}" for i in self.ec2.find_instances(cluster_filter(self.cluster))]
        found += [f"vpc {v}" for v in self.ec2.find_network(cluster_filter(self.cluster)).vpcs]
        return found

    # -- network ----------------------------------------------------------------------

    def create_network(self, recorder: Recorder) -> NetworkInfo:
        zone = self._primary_zone()
        ec2 = self.ec2
        vpc = ec2.create_cluster_vpc(VPC_CIDR, self._tags("network", "vpc"))
        vpc_record = ResourceRecord("vpc", vpc, "network")
        recorder.record_resource(vpc_record)
        gateway = ec2.create_internet_gateway(vpc, self._tags("network", "igw"))
        recorder.record_resource(ResourceRecord("internet-gateway", gateway, "internet gateway"))
        table = ec2.create_public_route_table(vpc, gateway, self._tags("network", "routes"))
        recorder.record_resource(ResourceRecord("route-table", table, "route table"))
        controller_name, nodes_name = security_group_names(self.cluster)
        group = ec2.create_controller_security_group(
            vpc,
            controller_name,
            str(self.profile.allowed_cidr),
            VPC_CIDR,
            self._tags("network", "sg"),
        )
        recorder.record_resource(ResourceRecord("security-group", group, "controller firewall"))
        nodes_group = ec2.create_nodes_security_group(
            vpc, nodes_name, VPC_CIDR, self._tags("network", "nodes-sg")
        )
        recorder.record_resource(ResourceRecord("security-group", nodes_group, "nodes firewall"))
        self._network = Network(vpc, table, group, {}, nodes_group)
        self._subnet_in(zone, recorder)
        self._create_identity(recorder)
        return NetworkInfo(vpc_record, VPC_CIDR)

    def _primary_zone(self) -> str:
        zones = self._zones_for(sorted(self._types))
        if not zones:
            where = "; ".join(
                f"{t}: {', '.join(sorted(z))}" for t, z in sorted(self._zones.items())
            )
            raise InputError(
                f"no availability zone of {self.region} offers all the instance types asked for",
                where,
                "choose instance types offered together in one zone",
            )
        return zones[0]

    def _sorted_zones(self) -> list[tuple[str, set[str]]]:
        return sorted(self._zones.items())

    def _subnet_in(self, zone: str, recorder: Recorder) -> str:
        """The cluster's subnet in ``zone``, made (and routed to the internet) when missing."""
        network = self._known_network()
        if zone in network.subnets:
            return network.subnets[zone]
        cidr = subnet_cidr(len(network.subnets))
        subnet = self.ec2.create_cluster_subnet(
            network.vpc, cidr, zone, self._tags("network", f"subnet-{zone}")
        )
        recorder.record_resource(ResourceRecord("subnet", subnet, f"subnet in {zone}"))
        self.ec2.associate_route_table(network.route_table, subnet)
        network.subnets[zone] = subnet
        return subnet

    def _known_network(self) -> Network:
        if self._network is None:
            self._network = self._find_network()
        return self._network

    def _find_network(self) -> Network:
        from clusterous.providers.aws.sweep import find_cluster_network

        found = find_cluster_network(self.ec2, self.cluster)
        if found is None:
            raise ClusterousError(
                f"the network of cluster {self.cluster!r} is gone",
                "no VPC, subnet or security group carries its tag",
                f"destroy it with 'clusterous destroy {self.cluster}' and create it again",
            )
        return found

    def _create_identity(self, recorder: Recorder) -> None:
        name = self.identity_name
        tags = self._tags("controller-identity", "controller")
        self.iam.create_controller_role(name, str(self.profile.bucket), self.cluster, tags)
        recorder.record_resource(ResourceRecord("iam-role", f"role/{name}", "controller role"))
        self.iam.create_instance_profile(name, tags)
        recorder.record_resource(
            ResourceRecord("instance-profile", f"instance-profile/{name}", "controller profile")
        )

    # -- shared volume ------------------------------------------------------------------

    def create_shared_volume(
        self, recorder: Recorder, size_gib: int | None, volume_id: str | None
    ) -> ResourceRecord:
        if volume_id:
            return self._bring_volume(recorder, volume_id)
        zone = self._controller_zone or self._primary_zone()
        volume = self.ec2.create_shared_volume(
            zone, size_gib or DEFAULT_VOLUME_GIB, self._tags("volume", "data")
        )
        record = ResourceRecord("volume", volume, "shared volume")
        recorder.record_resource(record)
        self._volume = volume
        self._controller_zone = zone
        self.ec2.wait_volume(volume, "available", self.clock() + LAUNCH_TIMEOUT)
        return record

    def _bring_volume(self, recorder: Recorder, volume_id: str) -> ResourceRecord:
        """A volume the user brings: used as it is, never formatted, never deleted."""
        volume = self.ec2.describe_volume(volume_id)
        if volume is None:
            raise InputError(
                f"shared volume {volume_id} does not exist in {self.region}",
                None,
                "check shared_volume_id (see 'clusterous ls-volumes'), or leave it out",
            )
        if volume.attached_to:
            raise InputError(
                f"shared volume {volume_id} is attached to {', '.join(volume.attached_to)}",
                "a volume can be attached to one controller only",
                "detach it first (or destroy the cluster that uses it)",
            )
        record = ResourceRecord("volume", volume_id, "shared volume (yours)", keep=True)
        recorder.record_resource(record)
        self._volume = volume_id
        self._controller_zone = volume.zone
        self._subnet_in(volume.zone, recorder)
        return record

    # -- nodes ----------------------------------------------------------------------------

    def launch_nodes(
        self, requests: Sequence[NodeRequest], recorder: Recorder, report: Report
    ) -> list[NodeRecord]:
        records: list[NodeRecord] = []
        for batch in launches(requests):  # one run_instances each
            records += self._launch_batch(batch, recorder, report)
        return records

    def _launch_batch(
        self, batch: list[NodeRequest], recorder: Recorder, report: Report
    ) -> list[NodeRecord]:
        first = batch[0]
        self.check_instance_types([first.instance_type])
        info = self._types[first.instance_type]
        params = first.bootstrap
        if params is None:
            raise ClusterousError("internal: an AWS launch needs bootstrap parameters")
        if first.role == "controller" and self._volume:
            params = replace(params, shared_device=shared_device(self._volume, info.nitro))
        names = [r.name for r in batch]
        instances = self._run_with_fallback(batch, user_data(params, names), recorder, report)
        return self._settle(batch, instances, recorder)

    def _run_with_fallback(
        self, batch: list[NodeRequest], data: bytes, recorder: Recorder, report: Report
    ) -> list[Instance]:
        """Spot then on-demand (when allowed); in each, every zone offering the type."""
        first = batch[0]
        markets = (
            [True, False] if first.spot and first.spot_fallback == "on-demand" else [first.spot]
        )
        failure: ClusterousError | None = None
        for spot in markets:
            for zone in self._launch_zones(first):
                try:
                    return self._run(batch, data, zone, spot, recorder)
                except CapacityError as problem:
                    failure = problem
                    report(f"no capacity for {first.instance_type} in {zone}: trying further")
                except QuotaError as problem:
                    if not (problem.spot and spot and len(markets) > 1):
                        raise
                    failure = problem
                    report(f"spot quota reached for {first.instance_type}: trying on-demand")
                    break  # a quota is the region's: no other zone helps
        assert failure is not None
        raise failure

    def _launch_zones(self, request: NodeRequest) -> list[str]:
        if request.role == "controller":
            return [self._controller_zone or self._primary_zone()]
        zones = sorted(self._zones[request.instance_type])
        home = self._controller_zone or (zones[0] if zones else "")
        return sorted(zones, key=lambda z: (z != home, z))

    def _run(
        self, batch: list[NodeRequest], data: bytes, zone: str, spot: bool, recorder: Recorder
    ) -> list[Instance]:
        first = batch[0]
        image, root = self._image_for(self._types[first.instance_type].architecture)
        network = self._known_network()
        subnet = self._subnet_in(zone, recorder)
        first_number = node_number(first.name)
        tags = self._tags(
            "controller" if first.role == "controller" else first.group,
            first.group,
            **{GROUP_TAG: first.group, FIRST_INDEX_TAG: str(first_number)},
        )
        spec = LaunchSpec(
            image_id=image,
            instance_type=first.instance_type,
            count=len(batch),
            subnet_id=subnet,
            zone=zone,
            security_group_id=network.group_for(first.role),
            user_data=data,
            tags=tags,
            root_device=root,
            key_name=self.profile.key_pair,
            instance_profile=self.identity_name if first.role == "controller" else None,
            spot=spot,
            public_ip=self._needs_public_ip(first.role, network),
            instance_tags=launch_tags(first),
        )
        instances = self.ec2.run_cluster_instances(spec)
        launched = []
        for instance in instances:
            request = batch[instance.launch_index]
            launched.append(
                NodeRecord(request.name, request.group, request.instance_type, instance.id)
            )
        record_nodes(recorder, launched)
        return instances

    def _needs_public_ip(self, role: Role, network: Network) -> bool:
        """The controller, for SSH; the others only when no NAT gateway routes them out."""
        if role == "controller":
            return True
        if self._nat is None:
            self._nat = self.ec2.routes_out_without_public_ip(network.route_table)
        return not self._nat

    def _image_for(self, architecture: str) -> tuple[str, str]:
        if architecture not in self._amis:
            image = self.ec2.debian_ami(architecture, self.image_parameter)
            self._amis[architecture] = (image, self.ec2.root_device(image))
        return self._amis[architecture]

    def _settle(
        self, batch: list[NodeRequest], instances: list[Instance], recorder: Recorder
    ) -> list[NodeRecord]:
        """Record the addresses; the controller is waited for (public address, volume).

        Other nodes have their private address from the launch itself and are
        reached through the controller; whether they run is proven when they
        join the Swarm, so no per-launch polling grows with their number.
        """
        by_id = {i.id: i for i in instances}
        if batch[0].role == "controller":
            ids = [i.id for i in instances]
            by_id = {i.id: i for i in self.ec2.wait_running(ids, self.clock() + LAUNCH_TIMEOUT)}
        records = []
        for instance in instances:
            now = by_id[instance.id]
            request = batch[instance.launch_index]
            controller = request.role == "controller"
            if controller and self._volume:
                self.ec2.attach_volume(self._volume, now.id, "/dev/sdf")
            record = NodeRecord(
                request.name,
                request.group,
                request.instance_type,
                now.id,
                private_addr=now.private_ip,
                ssh_host=now.public_ip if controller else "",
                ssh_port=22 if controller else 0,
            )
            records.append(record)
        record_nodes(recorder, records)
        return records

    def terminate_nodes(self, nodes: Sequence[NodeRecord], report: Report) -> None:
        ids = [n.instance_id for n in nodes if n.instance_id]
        self.ec2.terminate_instances(ids)
        left = self.ec2.wait_terminated(ids, self.clock() + LAUNCH_TIMEOUT)
        if left:
            raise ClusterousError(
                f"instances did not terminate in time: {', '.join(left)}",
                None,
                "run the command again, or look at them in the EC2 console",
            )
        for node in nodes:
            report(f"terminated node {node.name} ({node.instance_id})")

    def describe_nodes(self) -> list[NodeView]:
        views = []
        for instance in self.ec2.find_instances(cluster_filter(self.cluster)):
            name = node_name_of(instance)
            views.append(
                NodeView(
                    name=name,
                    group=instance.tags.get(GROUP_TAG, ""),
                    instance_type=instance.instance_type,
                    instance_id=instance.id,
                    state="running" if instance.state == "running" else instance.state,
                    private_addr=instance.private_ip,
                    ssh_host=instance.public_ip if name == "controller" else "",
                    ssh_port=22 if name == "controller" else 0,
                )
            )
        return views

    def bootstrap_settings(self, private_cidr: str) -> dict[str, str]:
        return {
            "dns": "",
            "docker_storage_driver": "",
            "registry_storage": "s3",
            "registry_bucket": str(self.profile.bucket or ""),
            "registry_region": self.region,
            "registry_prefix": registry_prefix(self.cluster),
            "registry_endpoint": registry_endpoint(self.region, os.environ),
            "swarm_addr_pool": SWARM_ADDR_POOL,
            "nfs": "yes",
            "shared_device": "",
        }

    # -- teardown and finding ------------------------------------------------------------

    def sweep(self, state: ClusterState | None, keep_volume: bool, report: Report) -> SweepReport:
        from clusterous.providers.aws.sweep import Sweeper

        return Sweeper(self, report).sweep(state, keep_volume)

    def leftovers(self) -> list[Leftover]:
        from clusterous.providers.aws.sweep import Sweeper

        return Sweeper(self, lambda _: None).leftovers()

    def shared_volume_question(self, state: ClusterState | None) -> str | None:
        """The shared volume a destroy would delete, for the question 'keep it?'."""
        from clusterous.providers.aws.sweep import Sweeper

        return Sweeper(self, lambda _: None).deletable_volume(state)

    def list_clusters(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for instance in self.ec2.find_instances(any_cluster_filter()):
            name = instance.tags.get(CLUSTER_TAG, "")
            counts[name] = counts.get(name, 0) + 1
        for name in self.ec2.vpc_cluster_names(any_cluster_filter()):
            counts.setdefault(name, 0)
        counts.pop("", None)
        return counts

    def adopt(self, login_key: KeyPair) -> ClusterState:
        """Rebuild the ledger of a cluster made elsewhere, from its tags alone.

        Nothing is asked of the nodes and nothing sent to them: they already
        accept the profile's key pair (``login_key``), and the host keys to pin
        come from the instances' tags (``host_public_key``).
        """
        instances = self.ec2.find_instances(cluster_filter(self.cluster), ("pending", "running"))
        controller = next((i for i in instances if node_name_of(i) == "controller"), None)
        if controller is None:
            raise ClusterousError(
                f"cluster {self.cluster!r} has no running controller in {self.region}",
                "its nodes were stopped or ended (the lease may have run out)",
                f"remove what is left with 'clusterous destroy {self.cluster}'",
            )
        self._check_adoptable(instances, controller)
        state = ClusterState(self.cluster, self.name, self.profile.name, status="ready")
        state.private_cidr = next(iter(self.ec2.vpc_cidrs(cluster_filter(self.cluster))), "")
        state.nodes = sorted((adopted_node(i) for i in instances), key=lambda n: n.name)
        state.resources = self._found_resources(controller.id)
        state.groups = group_markets(instances)
        state.cluster_id = controller.tags.get(CLUSTER_ID_TAG, "")
        self._host_keys = {node_name_of(i): i.tags[HOST_KEY_TAG] for i in instances}
        return state

    def _check_adoptable(self, instances: Sequence[Instance], controller: Instance) -> None:
        if any(HOST_KEY_TAG not in i.tags for i in instances):
            raise ClusterousError(
                f"cluster {self.cluster!r} cannot be taken over from here",
                "it was made by an older clusterous: its nodes do not carry their host keys "
                "in tags, and accept only the login key of the machine that made it",
                f"work on it from that machine, or destroy it here with "
                f"'clusterous destroy {self.cluster}' (that works from the tags alone)",
            )
        if controller.key_name and controller.key_name != self.profile.key_pair:
            raise InputError(
                f"cluster {self.cluster!r} was made with the EC2 key pair "
                f"{controller.key_name!r}; profile {self.profile.name!r} uses "
                f"{self.profile.key_pair!r}",
                "only the private key of that key pair opens its nodes",
                f"run 'clusterous setup --key-pair {controller.key_name} --key-file PATH' "
                "with that key's private file, then 'clusterous workon' again",
            )

    def _found_resources(self, controller_id: str) -> list[ResourceRecord]:
        """The network, volume and role of the cluster, found by tag and by name."""
        ours = cluster_filter(self.cluster)
        pieces = self.ec2.find_network(ours)
        found = [ResourceRecord("vpc", v, "network") for v in pieces.vpcs]
        found += [
            ResourceRecord("internet-gateway", g, "internet gateway") for g, _ in pieces.gateways
        ]
        found += [ResourceRecord("route-table", t, "route table") for t, _ in pieces.route_tables]
        found += [ResourceRecord("security-group", g, "firewall") for g in pieces.security_groups]
        found += [
            ResourceRecord("subnet", s, f"subnet in {z}")
            for z, s in sorted(self.ec2.subnets_by_zone(ours).items())
        ]
        found += self._found_volumes(controller_id)
        for what in sorted(self.iam.find_cluster_identities(self.cluster)):
            kind, name = what.split(" ", 1)
            found.append(ResourceRecord(IAM_KINDS[kind], f"{kind}/{name}", f"controller {kind}"))
        return found

    def _found_volumes(self, controller_id: str) -> list[ResourceRecord]:
        """The shared volume: made by clusterous (tagged), or brought by the user (kept)."""
        attached = self.ec2.find_volumes(
            [{"Name": "attachment.instance-id", "Values": [controller_id]}]
        )
        found = []
        for volume in attached:
            role = volume.tags.get(ROLE_TAG)
            if role == "volume":
                found.append(ResourceRecord("volume", volume.id, "shared volume"))
            elif role is None:
                found.append(
                    ResourceRecord("volume", volume.id, "shared volume (yours)", keep=True)
                )
        return found

    def host_public_key(self, node: str) -> str:
        """The host key pinned for ``node``: from its instance's tag, read by ``adopt``."""
        if node not in self._host_keys:
            raise ClusterousError(
                f"no host key of node {node} is known: take the cluster over first"
            )
        return self._host_keys[node]


def launch_tags(request: NodeRequest) -> dict[str, str]:
    """What 'workon' on another machine needs of a launch: host key, market."""
    host_key = " ".join(request.host_key.public_openssh.split()[:2])  # no comment
    if len(host_key) > TAG_VALUE_LIMIT:
        raise ValueError(f"host key of {len(host_key)} characters does not fit a tag")
    return {
        HOST_KEY_TAG: host_key,
        SPOT_TAG: "true" if request.spot else "false",
        SPOT_FALLBACK_TAG: request.spot_fallback,
    }


def adopted_node(instance: Instance) -> NodeRecord:
    name = node_name_of(instance)
    controller = name == "controller"
    return NodeRecord(
        name,
        instance.tags.get(GROUP_TAG, ""),
        instance.instance_type,
        instance.id,
        private_addr=instance.private_ip,
        ssh_host=instance.public_ip if controller else "",
        ssh_port=22 if controller else 0,
        ready=instance.state == "running",
    )


def group_markets(instances: Sequence[Instance]) -> dict[str, GroupMarket]:
    """Per node group, the market its launches asked for (what add-nodes repeats)."""
    markets: dict[str, GroupMarket] = {}
    for instance in instances:
        group = instance.tags.get(GROUP_TAG, "")
        if group and group != "controller":
            markets[group] = GroupMarket(
                spot=instance.tags.get(SPOT_TAG, str(instance.spot).lower()) == "true",
                spot_fallback=instance.tags.get(SPOT_FALLBACK_TAG, "on-demand"),
            )
    return markets


def node_number(name: str) -> int:
    suffix = name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def node_name_of(instance: Instance) -> str:
    """``controller``, or ``<group>-<first + launch index>`` from the launch's tags."""
    group = instance.tags.get(GROUP_TAG, "")
    if group == "controller":
        return "controller"
    first = int(instance.tags.get(FIRST_INDEX_TAG, "1") or 1)
    return f"{group}-{first + instance.launch_index}"


def unknown_instance_type(name: str, offered: set[str], region: str) -> InputError:
    close = difflib.get_close_matches(name, sorted(offered), n=4, cutoff=0.6)
    return InputError(
        f"unknown instance type {name!r} in {region}",
        f"did you mean {', '.join(close)}?" if close else "no instance type has a similar name",
        "see 'aws ec2 describe-instance-types' or the EC2 console for the types of this region",
    )
