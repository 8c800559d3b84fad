"""The twin's own view of moto: boto3 clients straight to it, and a moto of its own.

The materialiser asks moto what an instance is (subnet, addresses, user-data,
role) with clients that go to moto directly, not through the front endpoint,
so nothing it does is observed again. ``MotoProcess`` is the moto server the
twin starts when it is given none: a child process on 127.0.0.1 only, with
moto's validation of instance types, images and key pairs switched on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

VALIDATION = {
    "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true",
    "MOTO_ENABLE_AMI_VALIDATION": "true",
    "MOTO_ENABLE_KEYPAIR_VALIDATION": "true",
}
IMAGE_PARAMETER = "/clusterous-twin/debian/12/{arch}"
ARCHITECTURES = (("amd64", "x86_64"), ("arm64", "arm64"))


class Moto:
    """boto3 clients to one moto server, one per service and region, made once."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._clients: dict[tuple[str, str], Any] = {}
        self._seeded: set[str] = set()
        self._cidrs: dict[str, str] = {}  # subnet or VPC id -> CIDR
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        import boto3

        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = boto3.session.Session().client(
                    service,
                    region_name=region,
                    endpoint_url=self.url,
                    aws_access_key_id="twin",
                    aws_secret_access_key="twin",
                )
            return self._clients[key]

    def seed_region(self, region: str) -> None:
        """A Debian-like image behind the twin's SSM parameter (moto reserves /aws/ names)."""
        with self._lock:
            if region in self._seeded:
                return
            self._seeded.add(region)
        ec2, ssm = self.client("ec2", region), self.client("ssm", region)
        for arch, machine in ARCHITECTURES:
            image = ec2.register_image(
                Name=f"clusterous-twin-debian-12-{arch}",
                Architecture=machine,
                RootDeviceName="/dev/xvda",
                VirtualizationType="hvm",
                BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
            )["ImageId"]
            ssm.put_parameter(
                Name=IMAGE_PARAMETER.format(arch=arch), Value=image, Type="String", Overwrite=True
            )

    def instance(self, region: str, instance_id: str) -> dict[str, Any]:
        reservations = self.client("ec2", region).describe_instances(InstanceIds=[instance_id])
        return dict(reservations["Reservations"][0]["Instances"][0])

    def user_data(self, region: str, instance_id: str) -> bytes:
        import base64

        answer = self.client("ec2", region).describe_instance_attribute(
            InstanceId=instance_id, Attribute="userData"
        )
        encoded = answer.get("UserData", {}).get("Value", "")
        return base64.b64decode(encoded) if encoded else b""

    def shutdown_behavior(self, region: str, instance_id: str) -> str:
        """What EC2 does when the instance shuts itself down: ``stop`` or ``terminate``."""
        answer = self.client("ec2", region).describe_instance_attribute(
            InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior"
        )
        return str(answer.get("InstanceInitiatedShutdownBehavior", {}).get("Value") or "stop")

    def subnet_cidr(self, region: str, subnet_id: str) -> str:
        """A subnet's CIDR (it never changes: asked once per subnet)."""
        if subnet_id not in self._cidrs:
            subnets = self.client("ec2", region).describe_subnets(SubnetIds=[subnet_id])
            self._cidrs[subnet_id] = str(subnets["Subnets"][0]["CidrBlock"])
        return self._cidrs[subnet_id]

    def vpc_cidr(self, region: str, vpc_id: str) -> str:
        """A VPC's primary CIDR (it never changes: asked once per VPC)."""
        if vpc_id not in self._cidrs:
            vpcs = self.client("ec2", region).describe_vpcs(VpcIds=[vpc_id])
            self._cidrs[vpc_id] = str(vpcs["Vpcs"][0]["CidrBlock"])
        return self._cidrs[vpc_id]

    def ssh_sources(self, region: str, group_ids: list[str], vpc_cidr: str) -> list[str]:
        """CIDRs outside the VPC that the security groups let reach TCP port 22."""
        import ipaddress

        if not group_ids:
            return []
        groups = self.client("ec2", region).describe_security_groups(GroupIds=group_ids)
        vpc = ipaddress.ip_network(vpc_cidr)
        found = []
        for group in groups["SecurityGroups"]:
            for rule in group.get("IpPermissions", []):
                if not opens_ssh(rule):
                    continue
                for cidr in (r["CidrIp"] for r in rule.get("IpRanges", [])):
                    if not ipaddress.ip_network(cidr).subnet_of(vpc):  # type: ignore[arg-type]
                        found.append(cidr)
        return found

    def role_credentials(
        self, profile_arn: str, session: str
    ) -> tuple[str, Callable[[], dict[str, str]]]:
        """The instance profile's role name, and a source of its (renewed) credentials."""
        iam = self.client("iam", "us-east-1")
        name = profile_arn.rsplit("/", 1)[-1]
        roles = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"]
        if not roles:
            return "", lambda: {}
        role = roles[0]
        return str(role["RoleName"]), RoleKeys(self, str(role["Arn"]), session)


def opens_ssh(rule: dict[str, Any]) -> bool:
    if rule.get("IpProtocol") == "-1":
        return True
    return rule.get("IpProtocol") == "tcp" and rule.get("FromPort", 0) <= 22 <= rule.get(
        "ToPort", 65535
    )


class RoleKeys:
    """AssumeRole credentials for one instance, renewed five minutes before they expire."""

    def __init__(self, moto: Moto, role_arn: str, session: str) -> None:
        self.moto = moto
        self.role_arn = role_arn
        self.session = session
        self._keys: dict[str, str] = {}
        self._expires = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> dict[str, str]:
        with self._lock:
            if time.time() > self._expires - 300:
                self._renew()
            return dict(self._keys)

    def _renew(self) -> None:
        sts = self.moto.client("sts", "us-east-1")
        keys = sts.assume_role(RoleArn=self.role_arn, RoleSessionName=self.session)["Credentials"]
        expiration: datetime = keys["Expiration"]
        self._expires = expiration.timestamp()
        self._keys = {
            "AccessKeyId": str(keys["AccessKeyId"]),
            "SecretAccessKey": str(keys["SecretAccessKey"]),
            "Token": str(keys["SessionToken"]),
            "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "LastUpdated": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class MotoProcess:
    """``python -m moto.server`` on 127.0.0.1, as a child process of the twin."""

    def __init__(self, log_file: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **VALIDATION}
        env.pop("AWS_CA_BUNDLE", None)
        self._log = log_file.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto exited with status {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
