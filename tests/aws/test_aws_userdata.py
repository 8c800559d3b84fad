"""The user-data of a launch: the bootstrap, each instance's own name and id, under 16 KB."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

from clusterous.node import BootstrapParams
from clusterous.providers.aws.ec2 import Instance
from clusterous.providers.aws.provider import node_name_of, shared_device, subnet_cidr
from clusterous.providers.aws.userdata import USER_DATA_LIMIT, launch_preamble, user_data

PARAMS = BootstrapParams(
    cluster="lab",
    node="worker-1",
    role="node",
    group="worker",
    controller_addr="10.0.0.5",
    join_token="SWMTKN-1-x",
    host_key="-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
)


def fake_metadata(tmp_path: Path, launch_index: int) -> dict[str, str]:
    """A python3 on PATH that answers like IMDS: the preamble's only outside call."""
    script = tmp_path / "python3"
    script.write_text(
        "#!/bin/sh\n"
        'case "$2" in\n'
        "  instance-id) echo i-0123456789abcdef0 ;;\n"
        f"  ami-launch-index) echo {launch_index} ;;\n"
        "esac\n"
    )
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}


def test_each_instance_takes_its_name_by_launch_index_and_its_own_instance_id(
    tmp_path: Path,
) -> None:
    names = ["worker-4", "worker-5", "worker-6"]
    program = launch_preamble(names) + 'echo "$CLUSTEROUS_NODE $CLUSTEROUS_INSTANCE_ID"\n'
    answer = subprocess.run(
        ["bash", "-c", program],
        env=fake_metadata(tmp_path, 1),
        capture_output=True,
        text=True,
        check=True,
    )
    assert answer.stdout.strip() == "worker-5 i-0123456789abcdef0"


def test_the_whole_user_data_is_valid_bash_and_fits_for_a_hundred_nodes(tmp_path: Path) -> None:
    names = [f"worker-{i}" for i in range(1, 101)]
    packed = user_data(PARAMS, names)
    assert len(packed) <= USER_DATA_LIMIT
    script = gzip.decompress(packed).decode()
    path = tmp_path / "user-data.sh"
    path.write_text(script)
    subprocess.run(["bash", "-n", str(path)], check=True)
    assert script.index("CLUSTEROUS_AUTHORIZED_KEY=") < script.index("clusterous_names=(")
    assert script.index("clusterous_names=(") < script.index("main()")


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
