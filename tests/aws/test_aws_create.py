"""Creating a cluster on EC2 (moto): the calls, the tags, the user-data, IAM and the firewall."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions
from clusterous.manager.ledger import Ledger
from clusterous.manager.plan import GroupRequest, plan_cluster
from clusterous.manager.report import SilentReporter
from clusterous.providers.aws.provider import AwsProvider
from clusterous.records import ClusterState
from tests.aws.faults import Faults
from tests.aws.provider_fixtures import (
    ALLOWED_CIDR,
    BUCKET,
    CLUSTER,
    REGION,
    Account,
    account,
    boto,
    cluster_instances,
    fault_server,
    faulty_aws,
    make_provider,
    policy_document,
    tags,
    user_data_of,
)
from tests.fakes import FAKE_TOKEN, FakeReadiness

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws"]  # fixtures used by name

GROUPS = [GroupRequest("master", "t3.medium", 1), GroupRequest("worker", "t3.large", 3)]


def create(
    home: Path,
    provider: AwsProvider,
    groups: list[GroupRequest] = GROUPS,
    readiness: FakeReadiness | None = None,
    volume_id: str | None = None,
    **plan_changes: Any,
) -> ClusterState:
    plan = replace(
        plan_cluster(CLUSTER, provider, "aws", groups, None, 10, volume_id), **plan_changes
    )
    ledger = Ledger(Home(home), CLUSTER)
    creator = ClusterCreator(
        plan,
        provider,
        ledger,
        ClusterAccess.of(Home(home), CLUSTER),
        SilentReporter(),
        CreateOptions(timeout=600),
        readiness=readiness or FakeReadiness(ledger),
    )
    return creator.create()


@pytest.fixture
def created(account: Account, clusterous_home: Path) -> ClusterState:
    return create(clusterous_home, make_provider(clusterous_home, account.profile))


def test_create_launches_controller_and_groups_and_marks_every_node_ready(
    created: ClusterState,
) -> None:
    assert created.status == "ready"
    names = sorted(n.name for n in created.nodes)
    assert names == ["controller", "master-1", "worker-1", "worker-2", "worker-3"]
    assert all(n.ready and n.instance_id.startswith("i-") for n in created.nodes)
    controller = created.controller
    assert controller is not None and controller.ssh_port == 22 and controller.ssh_host
    assert len(cluster_instances()) == 5


def test_one_run_instances_per_group_with_min_equal_max(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    launches = list(faulty_aws.forms("RunInstances"))
    counts = [(f["InstanceType"][0], f["MinCount"][0], f["MaxCount"][0]) for f in launches]
    assert counts == [("t3.medium", "1", "1"), ("t3.medium", "1", "1"), ("t3.large", "3", "3")]
    controller_launch = launches[0]
    assert controller_launch["IamInstanceProfile.Name"] == [f"clusterous-{REGION}-{CLUSTER}"]
    assert all("IamInstanceProfile.Name" not in f for f in launches[1:])
    assert all(f["MetadataOptions.HttpTokens"] == ["required"] for f in launches)
    assert all(f["BlockDeviceMapping.1.Ebs.DeleteOnTermination"] == ["true"] for f in launches)


def test_every_resource_is_tagged_with_cluster_role_and_name_at_creation(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    assert faulty_aws.calls("CreateTags") == []  # tags come with the creation, never after
    ec2 = boto("ec2")
    resources: list[dict[str, Any]] = [
        *ec2.describe_vpcs(Filters=_ours())["Vpcs"],
        *ec2.describe_subnets(Filters=_ours())["Subnets"],
        *ec2.describe_internet_gateways(Filters=_ours())["InternetGateways"],
        *ec2.describe_route_tables(Filters=_ours())["RouteTables"],
        *ec2.describe_security_groups(Filters=_ours())["SecurityGroups"],
        *ec2.describe_volumes(Filters=_ours())["Volumes"],
        *cluster_instances(),
    ]
    assert len(resources) == 1 + 1 + 1 + 1 + 2 + 6 + 5  # 5 root disks + the shared volume
    for resource in resources:
        assert {"clusterous:cluster", "clusterous:role", "Name"} <= tags(resource).keys()
    roles = {tags(i)["clusterous:role"] for i in cluster_instances()}
    assert roles == {"controller", "master", "worker"}


def _ours() -> list[dict[str, Any]]:
    return [{"Name": "tag:clusterous:cluster", "Values": [CLUSTER]}]


def test_the_ledger_lists_every_resource_made(created: ClusterState) -> None:
    kinds = sorted(r.kind for r in created.resources)
    assert kinds == [
        "iam-role",
        "instance-profile",
        "internet-gateway",
        "route-table",
        "security-group",
        "security-group",
        "subnet",
        "volume",
        "vpc",
    ]


def test_user_data_is_the_bootstrap_with_each_role_its_parameters(created: ClusterState) -> None:
    by_name = {n.name: n for n in created.nodes}
    controller = user_data_of(by_name["controller"].instance_id)
    worker = user_data_of(by_name["worker-2"].instance_id)
    assert controller.startswith("#!/usr/bin/env bash")
    assert "CLUSTEROUS_ROLE=controller" in controller
    assert "CLUSTEROUS_REGISTRY_STORAGE=s3" in controller
    assert f"CLUSTEROUS_REGISTRY_BUCKET={BUCKET}" in controller
    assert f"CLUSTEROUS_REGISTRY_PREFIX=clusterous/{CLUSTER}" in controller
    volume = next(r.id for r in created.resources if r.kind == "volume")
    assert f"Amazon_Elastic_Block_Store_{volume.replace('-', '')}" in controller
    assert "CLUSTEROUS_JOIN_TOKEN=''" in controller
    assert "CLUSTEROUS_ROLE=node" in worker
    assert f"CLUSTEROUS_JOIN_TOKEN={FAKE_TOKEN}" in worker
    assert f"CLUSTEROUS_CONTROLLER_ADDR={by_name['controller'].private_addr}" in worker
    assert "clusterous_names=(worker-1 worker-2 worker-3)" in worker
    assert "CLUSTEROUS_SHARED_DEVICE=''" in worker
    assert "CLUSTEROUS_NFS=yes" in worker
    for text in (controller, worker):
        assert "BEGIN OPENSSH PRIVATE KEY" in text  # the pinned host key
        assert "aws_secret_access_key" not in text.lower()


def test_each_node_presents_the_host_key_pinned_for_its_alias(
    created: ClusterState, clusterous_home: Path
) -> None:
    access = ClusterAccess.of(Home(clusterous_home), CLUSTER)
    pinned = access.known_hosts.entries()
    assert sorted(pinned) == sorted(access.alias(n.name) for n in created.nodes)
    workers = {pinned[access.alias(f"worker-{i}")] for i in (1, 2, 3)}
    assert len(workers) == 1  # one launch, one user-data, one key for the group
    assert pinned[access.alias("controller")] not in workers


def test_the_controller_role_may_touch_only_the_registry_prefix(created: ClusterState) -> None:
    iam = boto("iam", "us-east-1")
    name = f"clusterous-{REGION}-{CLUSTER}"
    policy = policy_document(
        iam.get_role_policy(RoleName=name, PolicyName="registry-storage")["PolicyDocument"]
    )
    resources = [s["Resource"] for s in policy["Statement"]]
    assert f"arn:aws:s3:::{BUCKET}/clusterous/{CLUSTER}/*" in resources
    assert all(r.startswith(f"arn:aws:s3:::{BUCKET}") for r in resources)
    listing = next(s for s in policy["Statement"] if "s3:ListBucket" in s["Action"])
    assert listing["Condition"]["StringLike"]["s3:prefix"][0] == f"clusterous/{CLUSTER}/*"
    trust = policy_document(iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"])
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [name]


def test_ssh_is_open_only_to_the_controller_from_the_allowed_cidr(created: ClusterState) -> None:
    groups = boto("ec2").describe_security_groups(Filters=_ours())["SecurityGroups"]
    by_name = {g["GroupName"]: g["IpPermissions"] for g in groups}
    controller, nodes = by_name[f"clusterous-{CLUSTER}"], by_name[f"clusterous-{CLUSTER}-nodes"]
    ssh = [r for r in controller if r.get("FromPort") == 22]
    assert len(ssh) == 1 and [x["CidrIp"] for x in ssh[0]["IpRanges"]] == [ALLOWED_CIDR]
    for rules in (controller, nodes):
        internal = [r for r in rules if r["IpProtocol"] == "-1"]
        assert [x["CidrIp"] for x in internal[0]["IpRanges"]] == ["10.0.0.0/16"]
    assert len(controller) == 2 and len(nodes) == 1  # the nodes: nothing from outside the VPC


def test_only_the_controller_is_in_the_group_open_to_ssh(created: ClusterState) -> None:
    groups = boto("ec2").describe_security_groups(Filters=_ours())["SecurityGroups"]
    names = {g["GroupId"]: g["GroupName"] for g in groups}
    for instance in cluster_instances():  # moto lists the groups on the network interface
        wanted = "" if tags(instance)["clusterous:role"] == "controller" else "-nodes"
        assert [names[g["GroupId"]] for g in instance["NetworkInterfaces"][0]["Groups"]] == [
            f"clusterous-{CLUSTER}{wanted}"
        ]


def test_the_vpc_has_dns_and_a_public_route(created: ClusterState) -> None:
    ec2 = boto("ec2")
    vpc = ec2.describe_vpcs(Filters=_ours())["Vpcs"][0]["VpcId"]
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        answer = ec2.describe_vpc_attribute(VpcId=vpc, Attribute=attribute)
        assert answer[attribute[0].upper() + attribute[1:]]["Value"] is True
    table = ec2.describe_route_tables(Filters=_ours())["RouteTables"][0]
    routes = {r["DestinationCidrBlock"]: r.get("GatewayId", "") for r in table["Routes"]}
    assert routes["0.0.0.0/0"].startswith("igw-")
    assert len(table["Associations"]) == 1


def test_the_shared_volume_is_gp3_and_attached_to_the_controller(created: ClusterState) -> None:
    volume = next(r for r in created.resources if r.kind == "volume")
    found = boto("ec2").describe_volumes(VolumeIds=[volume.id])["Volumes"][0]
    assert found["VolumeType"] == "gp3" and found["Size"] == 10
    assert created.controller is not None
    assert [a["InstanceId"] for a in found["Attachments"]] == [created.controller.instance_id]


def test_the_subnet_is_in_the_first_zone_offering_every_type(created: ClusterState) -> None:
    subnets = boto("ec2").describe_subnets(Filters=_ours())["Subnets"]
    assert [s["AvailabilityZone"] for s in subnets] == [f"{REGION}a"]


def test_a_graviton_group_boots_the_arm64_image(account: Account, clusterous_home: Path) -> None:
    groups = [GroupRequest("worker", "m6g.medium", 2)]
    state = create(clusterous_home, make_provider(clusterous_home, account.profile), groups)
    images = {i["InstanceType"]: i["ImageId"] for i in cluster_instances()}
    assert images == {"t3.medium": account.images["amd64"], "m6g.medium": account.images["arm64"]}
    assert len(state.nodes) == 3


def test_a_volume_the_user_brings_is_used_as_it_is_and_kept(
    account: Account, clusterous_home: Path
) -> None:
    from clusterous.manager.destroy import destroy_cluster

    ec2 = boto("ec2")
    volume = ec2.create_volume(AvailabilityZone=f"{REGION}b", Size=50, VolumeType="gp3")
    provider = make_provider(clusterous_home, account.profile)
    state = create(clusterous_home, provider, volume_id=volume["VolumeId"])
    assert state.controller is not None
    controller = boto("ec2").describe_instances(InstanceIds=[state.controller.instance_id])
    assert controller["Reservations"][0]["Instances"][0]["Placement"]["AvailabilityZone"] == (
        f"{REGION}b"
    )
    result = destroy_cluster(
        CLUSTER, provider, Ledger(Home(clusterous_home), CLUSTER), False, SilentReporter()
    )
    assert any(volume["VolumeId"] in kept for kept in result.kept)
    assert ec2.describe_volumes(VolumeIds=[volume["VolumeId"]])["Volumes"][0]["State"] == (
        "available"
    )
    assert result.leftovers == []
