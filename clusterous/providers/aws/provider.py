"""The AWS provider: a cluster as a tagged VPC, EC2 instances, a gp3 volume and an IAM role.

It implements the Provider interface with the boto3 wrapper in
``clusterous.aws``. Every resource is tagged as it is created and recorded in
the ledger at once; nodes configure themselves from user-data, one
``run_instances`` per group (``launch``). The network is ``network``'s, the
catalog of types ``catalog``'s. Teardown is a sweep (``sweep``): ledger plus
everything found by tag, in dependency order, then a re-listing. Its
capabilities: kept shared volumes (``volumes``), and taking a cluster over
from its tags alone (``adopt``: 'workon' on another machine).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from clusterous import cancel
from clusterous.aws.clients import Clients
from clusterous.aws.ec2 import DEBIAN_AMI_PARAMETER, Ec2
from clusterous.aws.iam import Iam, registry_prefix, role_name
from clusterous.aws.registry_store import RegistryStore
from clusterous.aws.tags import (
    CLUSTER_ID_TAG,
    CLUSTER_TAG,
    GROUP_TAG,
    any_cluster_filter,
    cluster_filter,
)
from clusterous.errors import ClusterousError, InputError
from clusterous.home import Home
from clusterous.providers.aws.adopt import AwsAdopter
from clusterous.providers.aws.catalog import (
    DEFAULT_VOLUME_GIB,
    PUBLIC_IPV4_HOURLY_USD,
    AwsCatalog,
)
from clusterous.providers.aws.launch import LAUNCH_TIMEOUT, Launcher, node_name_of
from clusterous.providers.aws.meter import AwsMeter
from clusterous.providers.aws.network import (
    VPC_CIDR,
    ClusterNetwork,
    Placement,
    resource_tags,
)
from clusterous.providers.aws.power import AwsPower
from clusterous.providers.aws.sweep import AwsSweep
from clusterous.providers.aws.volumes import AwsKeptVolumes
from clusterous.providers.base import (
    DEAD_STATES,
    BootFailure,
    BootstrapSettings,
    NetworkInfo,
    NodeRequest,
    NodeView,
    Recorder,
    Say,
    SweepResult,
)
from clusterous.records import ClusterState, NodeRecord, ResourceRecord

if TYPE_CHECKING:
    from clusterous.aws.session import AwsSession
    from clusterous.config import Profile

SWARM_ADDR_POOL = "10.200.0.0/16"  # outside the VPC: overlay networks never shadow nodes
S3_ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


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
        self.home = home
        self.profile = profile
        self._session_factory = session
        self.sleep = sleep
        self.clock = clock
        self._clients: Clients | None = None
        self.catalog = AwsCatalog(
            lambda: self.clients, home.cache_dir, profile.default_instance_type, image_parameter
        )
        self.kept_volumes = AwsKeptVolumes(lambda: self.ec2, cluster)
        self.adopter = AwsAdopter(lambda: self.ec2, lambda: self.iam, cluster, profile)
        self.image_source = None  # the nodes pull public images themselves
        self.meter = AwsMeter(lambda: self.ec2, self.catalog.book, self.registry_store, cluster)
        self.network = ClusterNetwork(
            lambda: self.ec2, cluster, str(profile.allowed_cidr), self._tags
        )
        self.placement = Placement()
        self.launcher = Launcher(
            lambda: self.ec2,
            cluster,
            profile.key_pair,
            self.catalog,
            self.network,
            self.placement,
            self._tags,
        )

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

    def registry_store(self) -> RegistryStore | None:
        """The registry's S3 prefix of this cluster; None when the profile has no bucket."""
        if not self.profile.bucket:
            return None
        return RegistryStore(self.clients, str(self.profile.bucket), registry_prefix(self.cluster))

    def _tags(self, role: str, name: str, **extra: str) -> dict[str, str]:
        """The tags of one resource, with the ownership id as it is when it is made."""
        return resource_tags(self.cluster, role, name, self.cluster_id, **extra)

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

    def owner_ids(self) -> dict[str, list[str]]:
        """Each ownership id ("" when none) on the cluster's instances and VPCs, with them.

        The VPC counts too, so a cluster whose instances are all gone (its lease ended them)
        is still told apart from another create of the same name.
        """
        found: dict[str, list[str]] = {}
        for instance in self.ec2.find_instances(cluster_filter(self.cluster)):
            owner = instance.tags.get(CLUSTER_ID_TAG, "")
            found.setdefault(owner, []).append(f"instance {instance.id}")
        for vpc, vpc_tags in self.ec2.vpc_tags(cluster_filter(self.cluster)).items():
            found.setdefault(vpc_tags.get(CLUSTER_ID_TAG, ""), []).append(f"vpc {vpc}")
        return found

    def find_existing(self) -> list[str]:
        found = [f"instance {i.id}" for i in self.ec2.find_instances(cluster_filter(self.cluster))]
        found += [f"vpc {v}" for v in self.ec2.find_network(cluster_filter(self.cluster)).vpcs]
        return found

    # -- network ----------------------------------------------------------------------

    def create_network(self, recorder: Recorder) -> NetworkInfo:
        zone = self.catalog.primary_zone()
        network = self.network.create(recorder)
        self.network.subnet_in(zone, recorder)
        self._create_identity(recorder)
        return NetworkInfo(ResourceRecord("vpc", network.vpc, "network"), VPC_CIDR)

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
        zone = self.placement.zone or self.catalog.primary_zone()
        volume = self.ec2.create_shared_volume(
            zone, size_gib or DEFAULT_VOLUME_GIB, self._tags("volume", "data")
        )
        record = ResourceRecord("volume", volume, "shared volume")
        recorder.record_resource(record)
        self.placement.volume = volume
        self.placement.zone = zone
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
        self.placement.volume = volume_id
        self.placement.zone = volume.zone
        self.network.subnet_in(volume.zone, recorder)
        return record

    # -- nodes ----------------------------------------------------------------------------

    def launch_nodes(
        self, requests: Sequence[NodeRequest], recorder: Recorder, say: Say
    ) -> list[NodeRecord]:
        return self.launcher.launch(requests, recorder, say)

    def terminate_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> None:
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
            say(f"terminated node {node.name} ({node.instance_id})")

    def stop_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> None:
        AwsPower(lambda: self.ec2, self.cluster, self.clock).stop(nodes, say)

    def start_nodes(self, nodes: Sequence[NodeRecord], say: Say) -> list[NodeRecord]:
        return AwsPower(lambda: self.ec2, self.cluster, self.clock).start(nodes, say)

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

    def boot_failures(self, nodes: Sequence[NodeRecord]) -> dict[str, BootFailure]:
        """Nodes whose instance stopped or ended while booting, with EC2's reason (spot, ...)."""
        names = {n.instance_id: n.name for n in nodes if n.instance_id}
        return {
            names[i.id]: BootFailure(i.state, f"EC2 says: {i.state_reason or 'no reason given'}")
            for i in self.ec2.describe_instances(list(names))
            if i.state in DEAD_STATES
        }

    def bootstrap_settings(self, private_cidr: str) -> BootstrapSettings:
        return BootstrapSettings(
            swarm_addr_pool=SWARM_ADDR_POOL,
            registry_storage="s3",
            registry_bucket=str(self.profile.bucket or ""),
            registry_region=self.region,
            registry_prefix=registry_prefix(self.cluster),
            registry_endpoint=registry_endpoint(self.region, os.environ),
            nfs="yes",
        )

    # -- teardown and finding ------------------------------------------------------------

    def sweep(
        self, state: ClusterState | None, keep_volume: bool, say: Say, keep_images: bool = False
    ) -> SweepResult:
        store = self.registry_store()
        sweep = AwsSweep(self.ec2, self.iam, self.cluster, self.identity_name, say, store)
        return sweep.run(state, keep_volume, keep_images)

    def list_clusters(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for instance in self.ec2.find_instances(any_cluster_filter()):
            name = instance.tags.get(CLUSTER_TAG, "")
            counts[name] = counts.get(name, 0) + 1
        for name in self.ec2.vpc_cluster_names(any_cluster_filter()):
            counts.setdefault(name, 0)
        counts.pop("", None)
        return counts
