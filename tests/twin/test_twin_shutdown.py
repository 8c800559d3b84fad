"""An instance that shuts itself down with InstanceInitiatedShutdownBehavior=stop is stopped.

clusterous always launches with ``terminate`` (tests/twin/test_twin_lease.py
proves that path); EC2's default is ``stop``, and the twin follows the
attribute. One bare instance, launched through the twin with a user-data
that only shuts the node down, ends up stopped in moto, its node container
exited (status 0) but kept, and its root volume still attached.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.twin.twin_cli import REGION, wait_for
from twin.core import Twin
from twin.motoapi import IMAGE_PARAMETER

CIDR = "10.213.0.0/16"  # not a cluster's 10.0.0.0/16: its own Docker network
SUBNET = "10.213.7.0/24"
SHUTS_DOWN = "#!/bin/sh\nsystemctl exit 0\n"  # what clusterous-lease does in a container


@pytest.fixture
def ec2(ec2_twin: Twin) -> Iterator[tuple[Any, str]]:
    """A client through the twin, and a subnet of its own."""
    import boto3

    client = boto3.session.Session().client(
        "ec2",
        region_name=REGION,
        endpoint_url=ec2_twin.api_url,
        aws_access_key_id="twin",
        aws_secret_access_key="twin",
    )
    vpc = client.create_vpc(CidrBlock=CIDR)["Vpc"]["VpcId"]
    subnet = client.create_subnet(VpcId=vpc, CidrBlock=SUBNET)["Subnet"]["SubnetId"]
    try:
        yield client, subnet
    finally:
        mine = [{"Name": "subnet-id", "Values": [subnet]}]
        ids = [
            i["InstanceId"]
            for r in client.describe_instances(Filters=mine)["Reservations"]
            for i in r["Instances"]
        ]
        if ids:
            client.terminate_instances(InstanceIds=ids)
        client.delete_subnet(SubnetId=subnet)
        client.delete_vpc(VpcId=vpc)


def test_a_node_that_shuts_itself_down_is_stopped_when_its_instance_says_stop(
    ec2_twin: Twin, ec2: tuple[Any, str]
) -> None:
    client, subnet = ec2
    ssm = ec2_twin.moto.client("ssm", REGION)
    image = ssm.get_parameter(Name=IMAGE_PARAMETER.format(arch="amd64"))["Parameter"]["Value"]
    launched = client.run_instances(
        ImageId=image,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet,
        InstanceInitiatedShutdownBehavior="stop",
        UserData=SHUTS_DOWN,
    )
    instance_id = launched["Instances"][0]["InstanceId"]

    def state() -> str:
        answer = client.describe_instances(InstanceIds=[instance_id])
        return str(answer["Reservations"][0]["Instances"][0]["State"]["Name"])

    assert wait_for(lambda: state() == "stopped", timeout=180), state()
    assert [m for m in ec2_twin.machines() if instance_id in m] == [
        f"container clusterous-twin-{ec2_twin.twin_id}-{instance_id}"
    ]
    root = client.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}]
    )
    assert [v["State"] for v in root["Volumes"]] == ["in-use"]
