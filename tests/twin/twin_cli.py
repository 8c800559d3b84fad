"""Driving the real ``clusterous`` CLI against the EC2 twin, and proving what is left.

Each test module makes its own cluster with a unique name, in its own
CLUSTEROUS_HOME, with an AWS profile made by ``clusterous setup`` against the
twin. ``leftovers`` lists everything tagged with the cluster in moto (the
same list DESIGN's "nothing billable left" covers) and everything the twin
still holds for instances.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.cli_process import CliOnHome, Run
from twin.core import Twin

__all__ = ["Run", "TwinCli"]

REPO = Path(__file__).resolve().parents[2]
BUSYBOX_WEB = REPO / "environments" / "busybox-web"
REGION = "eu-west-1"
BUCKET = "clusterous-twin-registry"
CLUSTER_TAG = "clusterous:cluster"


def unique_name(prefix: str = "twin") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class TwinCli(CliOnHome):
    """The clusterous CLI, as a separate process, on one CLUSTEROUS_HOME, pointed at the twin."""

    twin: Twin
    # One moto serves every test module: each home makes a key pair of its own.
    key_pair: str = field(default_factory=lambda: unique_name("key"))

    def env(self) -> dict[str, str]:
        assert self.twin is not None, "TwinCli needs the twin"
        env = {**super().env(), **self.twin.exports()}
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "CLUSTEROUS_PROFILE",
        ):
            env.pop(name, None)
        return env

    def setup(self, *extra: str) -> Run:
        """An AWS profile 'aws' against the twin (``extra`` may name another key pair)."""
        key = () if "--key-pair" in extra else ("--key-pair", self.key_pair)
        return self.ok(
            "setup",
            "--yes",
            "--region",
            REGION,
            "--bucket",
            BUCKET,
            "--allowed-cidr",
            "127.0.0.1/32",
            *key,
            *extra,
        )

    def on(self, name: str, node: str, script: str) -> str:
        return self.ok("ssh", "--cluster", name, node, "--", "sh", "-c", f"'{script}'").stdout


def nodes_by_name(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["name"]: node for node in status["nodes"]}


def tagged(twin: Twin, cluster: str) -> list[str]:
    """Everything in moto that carries the cluster's tag (and is not gone)."""
    ec2 = twin.moto.client("ec2", REGION)
    mine = [{"Name": f"tag:{CLUSTER_TAG}", "Values": [cluster]}]
    found = [
        f"instance {i['InstanceId']} ({i['State']['Name']})"
        for r in ec2.describe_instances(Filters=mine)["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]
    listings = {
        "volume": ("describe_volumes", "Volumes", "VolumeId"),
        "vpc": ("describe_vpcs", "Vpcs", "VpcId"),
        "subnet": ("describe_subnets", "Subnets", "SubnetId"),
        "security group": ("describe_security_groups", "SecurityGroups", "GroupId"),
        "internet gateway": ("describe_internet_gateways", "InternetGateways", "InternetGatewayId"),
        "route table": ("describe_route_tables", "RouteTables", "RouteTableId"),
    }
    for kind, (method, key, ident) in listings.items():
        found += [f"{kind} {x[ident]}" for x in getattr(ec2, method)(Filters=mine)[key]]
    return sorted(found + iam_tagged(twin, cluster) + registry_objects(twin, cluster))


def iam_tagged(twin: Twin, cluster: str) -> list[str]:
    iam = twin.moto.client("iam", "us-east-1")
    found = []
    for role in iam.list_roles()["Roles"]:
        tags = iam.list_role_tags(RoleName=role["RoleName"])["Tags"]
        if {"Key": CLUSTER_TAG, "Value": cluster} in tags:
            found.append(f"iam role {role['RoleName']}")
    for profile in iam.list_instance_profiles()["InstanceProfiles"]:
        if cluster in profile["InstanceProfileName"]:
            found.append(f"instance profile {profile['InstanceProfileName']}")
    return found


def registry_objects(twin: Twin, cluster: str) -> list[str]:
    s3 = twin.moto.client("s3", REGION)
    answer = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"clusterous/{cluster}/")
    return [f"s3 object {o['Key']}" for o in answer.get("Contents", [])]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def busybox_web(target: Path, port: int) -> Path:
    """A copy of the offline example with a static busybox beside its Dockerfile, on ``port``."""
    shutil.copytree(BUSYBOX_WEB, target, ignore=shutil.ignore_patterns("busybox"))
    script = REPO / "scripts" / "busybox-for-examples.sh"
    subprocess.run([str(script), str(target / "image")], check=True, capture_output=True)
    env_file = target / "env.yml"
    env_file.write_text(env_file.read_text().replace("8080:", f"{port}:"))
    return env_file


def http_get(port: int, path: str = "/", timeout: float = 30) -> str:
    """GET on 127.0.0.1:port, retried until it answers or the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
                return str(reply.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def wait_for(check: Any, timeout: float = 120, pause: float = 0.5) -> Any:
    """Poll ``check()`` until it returns something true; its last value when time is up."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(pause)


def stop_tunnels(cluster: str) -> None:
    """Tunnel processes of this test's cluster that outlived it (they belong to this test)."""
    from clusterous.environments.tunnels import is_tunnel_process

    ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
    for line in ps.splitlines():
        if "tunnel_process" in line and cluster in line:
            pid = int(line.split()[0])
            if is_tunnel_process(pid):
                os.kill(pid, signal.SIGTERM)


def clean_up(cli: TwinCli, cluster: str) -> None:
    """Last resort after a failed test: destroy from the tags (the twin removes the nodes)."""
    stop_tunnels(cluster)
    if tagged(cli.twin, cluster):
        cli("destroy", cluster, "--yes", "--delete-volume", timeout=300)
