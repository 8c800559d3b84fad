"""How AWS names its nodes, finds their shared device and slices the VPC."""

from __future__ import annotations

from clusterous.aws.ec2 import Instance
from clusterous.providers.aws.launch import node_name_of, shared_device
from clusterous.providers.aws.network import subnet_cidr


def test_node_names_come_back_from_the_launch_tags() -> None:
    tags = {"clusterous:group": "worker", "clusterous:first-index": "4"}
    instance = Instance("i-1", "running", "t3.medium", "eu-west-1a", 2, tags=tags)
    assert node_name_of(instance) == "worker-6"
    controller = Instance(
        "i-2",
        "running",
        "t3.medium",
        "eu-west-1a",
        0,
        tags={"clusterous:group": "controller", "clusterous:first-index": "0"},
    )
    assert node_name_of(controller) == "controller"


def test_the_shared_device_path_depends_on_the_hypervisor() -> None:
    nitro = shared_device("vol-0abc", nitro=True)
    assert nitro == "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0abc"
    assert shared_device("vol-0abc", nitro=False) == "/dev/xvdf"


def test_each_zone_gets_its_own_slice_of_the_vpc() -> None:
    assert [subnet_cidr(i) for i in range(3)] == ["10.0.0.0/20", "10.0.16.0/20", "10.0.32.0/20"]
