"""What real AWS refuses or charges that moto lets pass: each test encodes AWS's documented rule.

The rules come from the AWS documentation, not from moto's behaviour: the
characters CreateSecurityGroup accepts, which S3 actions support the
``s3:prefix`` condition key, IMDS options, zone types, public IPv4 prices.
Eventual consistency and lingering network interfaces are injected with the
fault middleware, and time is a FakeClock: no test really waits.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from clusterous.aws.ec2 import QuotaError, regular_zones
from clusterous.aws.errors import AwsQuotaError
from clusterous.aws.iam import registry_policy
from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.manager.ledger import Ledger
from clusterous.manager.plan import GroupRequest
from clusterous.providers.aws.provider import registry_endpoint
from clusterous.records import ClusterState
from tests.aws.faults import Faults
from tests.aws.provider_fixtures import (
    CLUSTER,
    REGION,
    Account,
    account,
    boto,
    cluster_instances,
    fault_server,
    faulty_aws,
    make_provider,
    tagged_resources,
)
from tests.aws.test_aws_create import create
from tests.fakes import FakeClock, FakeLink, FakeReadiness

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws"]

# CreateSecurityGroup, GroupName and GroupDescription (and a rule's Description):
# "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*", up to 255 characters.
AWS_GROUP_TEXT = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{1,255}")
IAM_NOT_READY = (
    "Value (clusterous-eu-west-1-lab) for parameter iamInstanceProfile.name is invalid. "
    "Invalid IAM Instance Profile name"
)
SPOT_GROUPS = [GroupRequest("worker", "t3.large", 2, spot=True)]


def text_fields(faults: Faults, action: str, suffixes: tuple[str, ...]) -> list[str]:
    return [
        value
        for form in faults.forms(action)
        for key, values in form.items()
        if key.endswith(suffixes)
        for value in values
    ]


# ---------------------------------------------------------------- security groups


def test_security_group_names_and_descriptions_use_only_what_aws_accepts(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    sent = text_fields(faulty_aws, "CreateSecurityGroup", ("GroupName", "GroupDescription"))
    sent += text_fields(faulty_aws, "AuthorizeSecurityGroupIngress", ("Description",))
    assert len(sent) >= 4
    for text in sent:
        assert AWS_GROUP_TEXT.fullmatch(text), f"AWS refuses {text!r}"


# ---------------------------------------------------------------- registry and IAM


def test_the_registry_endpoint_is_the_regions_s3_unless_the_cli_is_pointed_elsewhere() -> None:
    assert registry_endpoint("ap-southeast-5", {}) == "https://s3.ap-southeast-5.amazonaws.com"
    assert registry_endpoint("cn-north-1", {}) == "https://s3.cn-north-1.amazonaws.com.cn"
    assert registry_endpoint("eu-west-1", {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}) == (
        "http://127.0.0.1:9"
    )
    both = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:7"}
    assert registry_endpoint("eu-west-1", both) == "http://127.0.0.1:7"


def test_the_controller_is_given_the_registry_endpoint(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    settings = make_provider(clusterous_home, account.profile).bootstrap_settings("10.0.0.0/16")
    assert settings.registry_endpoint == faulty_aws.endpoint  # the twin's, from the env


def test_the_s3_prefix_condition_is_only_on_actions_that_support_it() -> None:
    """Service Authorization Reference: of these actions only ListBucket(Versions) has s3:prefix."""
    statements = json.loads(registry_policy("bucket", "lab"))["Statement"]
    for statement in statements:
        keys = statement.get("Condition", {}).get("StringLike", {})
        if "s3:prefix" in keys:
            assert set(statement["Action"]) <= {"s3:ListBucket", "s3:ListBucketVersions"}
    uploads = [s for s in statements if "s3:ListBucketMultipartUploads" in s["Action"]]
    assert len(uploads) == 1 and "Condition" not in uploads[0]
    assert uploads[0]["Resource"] == "arn:aws:s3:::bucket"


# ---------------------------------------------------------------- launches


def test_instances_require_imdsv2_with_one_hop(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    for form in faulty_aws.forms("RunInstances"):
        assert form["MetadataOptions.HttpTokens"] == ["required"]
        assert form["MetadataOptions.HttpPutResponseHopLimit"] == ["1"]


def test_spot_quota_reached_falls_back_to_on_demand_at_once(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    faulty_aws.set(
        {
            "action": "RunInstances",
            "code": "MaxSpotInstanceCountExceeded",
            "contains": "MarketType=spot",
        }
    )
    create(clusterous_home, make_provider(clusterous_home, account.profile), SPOT_GROUPS)
    spot_tries = [
        f for f in faulty_aws.forms("RunInstances") if "InstanceMarketOptions.MarketType" in f
    ]
    assert len(spot_tries) == 1  # a quota is the region's: no other zone is tried
    workers = [i for i in cluster_instances() if i["InstanceType"] == "t3.large"]
    assert len(workers) == 2 and all("InstanceLifecycle" not in i for i in workers)


def test_spot_quota_without_fallback_fails_naming_the_quota(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    faulty_aws.set({"action": "RunInstances", "code": "MaxSpotInstanceCountExceeded"})
    groups = [GroupRequest("worker", "t3.large", 2, spot=True, spot_fallback="none")]
    with pytest.raises(ClusterousError) as failure:
        create(clusterous_home, make_provider(clusterous_home, account.profile), groups)
    assert isinstance(failure.value.__cause__, QuotaError)
    assert "Spot Instance Requests" in failure.value.render()
    assert tagged_resources() == []


def test_a_new_instance_profile_is_waited_for_past_ten_tries_within_two_minutes(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    clock = FakeClock()
    faulty_aws.set(
        {
            "action": "RunInstances",
            "code": "InvalidParameterValue",
            "message": IAM_NOT_READY,
            "contains": "IamInstanceProfile",
            "times": 20,
        }
    )
    provider = make_provider(clusterous_home, account.profile, clock=clock, sleep=clock.sleep)
    state = create(clusterous_home, provider)
    assert state.status == "ready"
    assert faulty_aws.report()["injected"] == 20
    assert 60 <= clock.waited() <= 120


def test_an_instance_profile_never_seen_fails_at_the_deadline(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    clock = FakeClock()
    faulty_aws.set(
        {
            "action": "RunInstances",
            "code": "InvalidParameterValue",
            "message": IAM_NOT_READY,
            "contains": "IamInstanceProfile",
        }
    )
    provider = make_provider(clusterous_home, account.profile, clock=clock, sleep=clock.sleep)
    with pytest.raises(ClusterousError, match="Invalid IAM Instance Profile"):
        create(clusterous_home, provider)
    launch_waits = sum(s for s in clock.sleeps if s == 5.0)
    assert 110 <= launch_waits <= 120
    assert tagged_resources() == []


# ---------------------------------------------------------------- zones


def test_local_and_wavelength_zones_are_never_used(account: Account, clusterous_home: Path) -> None:
    from botocore.stub import Stubber

    zones = [
        {"ZoneName": f"{REGION}a", "ZoneType": "availability-zone"},
        {"ZoneName": f"{REGION}-ham-1a", "ZoneType": "local-zone"},
        {"ZoneName": f"{REGION}-wl1-dub-wlz-1", "ZoneType": "wavelength-zone"},
    ]
    assert regular_zones(zones) == [f"{REGION}a"]
    provider = make_provider(clusterous_home, account.profile)
    offers = [{"InstanceType": "t3.medium", "Location": z["ZoneName"]} for z in zones]
    with Stubber(provider.clients.get("ec2")) as stub:
        stub.add_response("describe_instance_type_offerings", {"InstanceTypeOfferings": offers})
        stub.add_response("describe_availability_zones", {"AvailabilityZones": zones})
        assert provider.ec2.zones_offering(["t3.medium"]) == {"t3.medium": {f"{REGION}a"}}


# ---------------------------------------------------------------- eventual consistency


def test_just_made_resources_not_found_yet_are_waited_for(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    clock = FakeClock()
    faulty_aws.set(
        {"action": "ModifyVpcAttribute", "code": "InvalidVpcID.NotFound", "times": 2},
        {
            "action": "AttachInternetGateway",
            "code": "InvalidInternetGatewayID.NotFound",
            "times": 1,
        },
        {"action": "AuthorizeSecurityGroupIngress", "code": "InvalidGroup.NotFound", "times": 3},
        {"action": "AssociateRouteTable", "code": "InvalidSubnetID.NotFound", "times": 1},
        {"action": "AttachVolume", "code": "InvalidVolume.NotFound", "times": 1},
        {"action": "RunInstances", "code": "InvalidSubnetID.NotFound", "times": 1},
    )
    provider = make_provider(clusterous_home, account.profile, clock=clock, sleep=clock.sleep)
    assert create(clusterous_home, provider).status == "ready"
    assert faulty_aws.report()["injected"] == 9
    assert clock.waited() < 60


def test_a_resource_that_never_appears_fails_within_a_minute_and_rolls_back(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    clock = FakeClock()
    faulty_aws.set({"action": "AuthorizeSecurityGroupIngress", "code": "InvalidGroup.NotFound"})
    provider = make_provider(clusterous_home, account.profile, clock=clock, sleep=clock.sleep)
    with pytest.raises(ClusterousError, match=r"InvalidGroup\.NotFound"):
        create(clusterous_home, provider)
    assert clock.waited() <= 60
    assert tagged_resources() == []


def test_teardown_waits_out_network_interfaces_that_linger(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    faulty_aws.set(
        {"action": "DeleteSecurityGroup", "code": "DependencyViolation", "times": 3},
        {"action": "DeleteSubnet", "code": "DependencyViolation", "times": 2},
        {"action": "DetachInternetGateway", "code": "DependencyViolation", "times": 1},
    )
    clock, said = FakeClock(), list[str]()
    provider = make_provider(clusterous_home, account.profile, clock=clock, sleep=clock.sleep)
    state = Ledger(provider.home, CLUSTER).load()
    result = provider.sweep(state, False, said.append)
    assert result.leftovers == [] and tagged_resources() == []
    assert faulty_aws.report()["injected"] == 6
    assert "removed the network" in said


def test_teardown_says_the_network_is_left_when_aws_keeps_refusing(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    faulty_aws.set({"action": "DeleteSubnet", "code": "DependencyViolation"})
    clock, said = FakeClock(), list[str]()
    provider = make_provider(clusterous_home, account.profile, clock=clock, sleep=clock.sleep)
    result = provider.sweep(Ledger(provider.home, CLUSTER).load(), False, said.append)
    left = {leftover.kind for leftover in result.leftovers}
    assert {"subnet", "vpc"} <= left
    assert "removed the network" not in said
    assert any(line.startswith("could not remove subnet") for line in said)
    assert not any(r.startswith(("subnet", "vpc")) for r in result.removed)
    assert clock.waited() <= 2 * 300 + 30  # the subnet, then the VPC it holds
    faulty_aws.clear()
    assert provider.sweep(None, False, said.append).leftovers == []


# ---------------------------------------------------------------- quotas of the network


def test_the_vpc_quota_says_how_to_free_or_raise_it(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    faulty_aws.set({"action": "CreateVpc", "code": "VpcLimitExceeded"})
    with pytest.raises(ClusterousError) as failure:
        create(clusterous_home, make_provider(clusterous_home, account.profile))
    assert isinstance(failure.value.__cause__, AwsQuotaError)
    text = failure.value.render()
    assert "limit of VPCs in eu-west-1" in text and "'VPCs per Region'" in text
    assert "clusterous destroy NAME" in text


# ---------------------------------------------------------------- public addresses


@dataclass
class NatAfterController(FakeReadiness):
    """Once the controller runs, route the subnet out through a NAT gateway."""

    nat: list[str] | None = None

    @contextmanager
    def controller(self, state: ClusterState, deadline: float) -> Iterator[FakeLink]:
        ec2 = boto("ec2")
        ours = [{"Name": "tag:clusterous:cluster", "Values": [CLUSTER]}]
        subnet = ec2.describe_subnets(Filters=ours)["Subnets"][0]["SubnetId"]
        table = ec2.describe_route_tables(Filters=ours)["RouteTables"][0]["RouteTableId"]
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        gateway = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)
        nat = gateway["NatGateway"]["NatGatewayId"]
        ec2.replace_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        self.nat = [nat, allocation]
        with super().controller(state, deadline) as link:
            yield link


def public_ip_asked(faults: Faults) -> list[tuple[str, str]]:
    return [
        (form["InstanceType"][0], form["NetworkInterface.1.AssociatePublicIpAddress"][0])
        for form in faults.forms("RunInstances")
    ]


def test_every_node_has_a_public_ip_when_only_an_internet_gateway_routes_out(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    assert public_ip_asked(faulty_aws) == [
        ("t3.medium", "true"),
        ("t3.medium", "true"),
        ("t3.large", "true"),
    ]


def test_nodes_behind_a_nat_gateway_get_no_public_ip_the_controller_does(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    readiness = NatAfterController(Ledger(Home(clusterous_home), CLUSTER))
    create(clusterous_home, make_provider(clusterous_home, account.profile), readiness=readiness)
    assert public_ip_asked(faulty_aws) == [
        ("t3.medium", "true"),  # the controller
        ("t3.medium", "false"),
        ("t3.large", "false"),
    ]


def test_the_dry_run_says_what_public_addresses_cost(
    account: Account, clusterous_home: Path
) -> None:
    lines = make_provider(clusterous_home, account.profile).describe_resources(None, None)
    assert any("$0.005 per address-hour" in line for line in lines)
    assert any("SSH to the controller from 203.0.113.7/32 only" in line for line in lines)
