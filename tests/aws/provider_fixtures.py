"""Fixtures for the AWS provider's tests: moto behind the fault injector, a seeded account.

Test modules import these fixtures by name. ``faulty_aws`` points every
botocore client at the FaultServer (moto's app wrapped in ``faults.py``; same
moto state as the session's server, reset by the ``aws`` fixture), so each
test can inject failures and read the calls made. ``account`` seeds what a
real account has and moto lacks: a Debian-like image behind an SSM parameter
(moto reserves ``/aws/...`` names, so the parameter path is a setting), and
the profile's key pair. ``FakeReadiness`` stands in for SSH and Swarm, since
moto instances never boot.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from clusterous.aws.keys import managed_key_path, new_private_key, public_key_of, write_private_key
from clusterous.config import Config, Profile, save_config
from clusterous.home import Home
from clusterous.providers.aws.provider import AwsProvider
from clusterous.providers.factory import AMI_PARAMETER_VARIABLE
from tests.aws.faults import Faults, FaultServer

REGION = "eu-west-1"
CLUSTER = "lab"
IMAGE_PARAMETER = "/clusterous-test/debian/12/{arch}"
ALLOWED_CIDR = "203.0.113.7/32"
BUCKET = "clusterous-registry-test"
KEY_PAIR = "clusterous-aws"


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FaultServer]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with FaultServer() as server:
        yield server


@pytest.fixture
def faulty_aws(
    aws: Any, fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Faults]:
    """AWS through the fault injector (no faults until a test sets some)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", fault_server.endpoint)
    monkeypatch.setenv(AMI_PARAMETER_VARIABLE, IMAGE_PARAMETER)
    faults = Faults(fault_server.endpoint)
    faults.clear()
    yield faults
    faults.clear()


@dataclass(frozen=True)
class Account:
    images: dict[str, str]  # amd64 | arm64 -> AMI id
    profile: Profile


def boto(service: str, region: str = REGION) -> Any:
    import boto3

    return boto3.client(service, region_name=region)


@pytest.fixture
def account(faulty_aws: Faults, clusterous_home: Path) -> Account:
    """A seeded account, an aws profile in the config (current), and a fresh call log."""
    ec2, ssm = boto("ec2"), boto("ssm")
    images = {}
    for arch, machine in (("amd64", "x86_64"), ("arm64", "arm64")):
        image = ec2.register_image(
            Name=f"debian-12-{arch}",
            Architecture=machine,
            RootDeviceName="/dev/xvda",
            VirtualizationType="hvm",
            BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
        )["ImageId"]
        ssm.put_parameter(Name=IMAGE_PARAMETER.format(arch=arch), Value=image, Type="String")
        images[arch] = image
    key_file = profile_key_file(Home(clusterous_home))
    ec2.import_key_pair(KeyName=KEY_PAIR, PublicKeyMaterial=public_key_of(key_file).encode())
    boto("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    profile = Profile(
        name="aws",
        provider="aws",
        region=REGION,
        key_pair=KEY_PAIR,
        key_file=str(key_file),
        bucket=BUCKET,
        allowed_cidr=ALLOWED_CIDR,
        default_instance_type="t3.medium",
    )
    save_config(Home(clusterous_home), Config().with_profile(profile, make_current=True))
    faulty_aws.clear()
    return Account(images, profile)


def profile_key_file(home: Home) -> Path:
    """The private key of the profile's EC2 key pair, as 'clusterous setup' keeps it."""
    path = managed_key_path(home, KEY_PAIR)
    if not path.exists():
        write_private_key(path, new_private_key())
    return path


def make_provider(
    home: Path, profile: Profile, cluster: str = CLUSTER, **extra: Any
) -> AwsProvider:
    extra.setdefault("sleep", lambda _: None)
    return AwsProvider(cluster, Home(home), profile, image_parameter=IMAGE_PARAMETER, **extra)


# ---------------------------------------------------------------- looking at moto


def tagged_resources(cluster: str = CLUSTER) -> list[str]:
    """Every live EC2 resource carrying the cluster's tag, and its IAM pieces by tag.

    Listed with each resource type's own describe call: moto's describe_tags
    still shows the tags of deleted resources.
    """
    ec2 = boto("ec2")
    ours = [{"Name": "tag:clusterous:cluster", "Values": [cluster]}]
    listings = [
        ("vpc", "describe_vpcs", "Vpcs", "VpcId"),
        ("subnet", "describe_subnets", "Subnets", "SubnetId"),
        ("internet-gateway", "describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
        ("route-table", "describe_route_tables", "RouteTables", "RouteTableId"),
        ("security-group", "describe_security_groups", "SecurityGroups", "GroupId"),
        ("volume", "describe_volumes", "Volumes", "VolumeId"),
    ]
    found = [
        f"{kind} {item[key]}"
        for kind, method, field_name, key in listings
        for item in getattr(ec2, method)(Filters=ours)[field_name]
    ]
    found += [f"instance {i['InstanceId']}" for i in cluster_instances(cluster)]
    return sorted(found + _iam_resources(cluster))


def _iam_resources(cluster: str) -> list[str]:
    iam = boto("iam", "us-east-1")
    mark = {"Key": "clusterous:cluster", "Value": cluster}
    found = [
        f"role {role['RoleName']}"
        for role in iam.list_roles()["Roles"]
        if mark in iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
    ]
    found += [
        f"instance-profile {p['InstanceProfileName']}"
        for p in iam.list_instance_profiles()["InstanceProfiles"]
        if mark in p.get("Tags", [])
    ]
    return found


def user_data_of(instance_id: str) -> str:
    import base64

    answer = boto("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    return gzip.decompress(base64.b64decode(answer["UserData"]["Value"])).decode()


def cluster_instances(cluster: str = CLUSTER) -> list[dict[str, Any]]:
    answer = boto("ec2").describe_instances(
        Filters=[
            {"Name": "tag:clusterous:cluster", "Values": [cluster]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )
    return [i for r in answer["Reservations"] for i in r["Instances"]]


def tags(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def policy_document(raw: Any) -> dict[str, Any]:
    return json.loads(raw) if isinstance(raw, str) else dict(raw)
