"""The lease on the twin: every instance ends itself as on EC2, and destroy sweeps the rest.

One cluster (controller, one master, one worker) with a lease of 72 s
(``--max-hours 0.02``, counted on the nodes' clocks from the end of create).
It is extended right away to 144 s: once the first end and the nodes' 15 s
timers have passed, every instance still runs. Then, with no command, each
node ends itself (``systemctl exit 0`` in its container), the twin tells moto
what EC2 does on an instance-initiated shutdown with
``InstanceInitiatedShutdownBehavior=terminate``, and every instance is
terminated: its node container gone, its root volume deleted, the shared
volume detached and kept. ``status`` says the lease ended the cluster and
names destroy; ``destroy`` leaves nothing. The waits poll with deadlines;
none sleeps for a lease.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.twin.twin_cli import CLUSTER_TAG, REGION, TwinCli, clean_up, tagged, unique_name
from twin.core import Twin
from twin.materialise import TWIN_LABEL

LEASE_HOURS = "0.02"  # 72 s
EXTENDED_HOURS = "0.04"  # 144 s
TIMERS = 20.0  # the nodes' lease timers run every 15 s (1 s accuracy)
MARGIN = 90.0  # a loaded machine: the nodes' timers, the shutdown, the twin's removal


@dataclass
class Leased:
    name: str
    cli: TwinCli
    first_end: float = 0.0  # monotonic: the lease's end before the extend
    extended_end: float = 0.0
    roots: tuple[str, ...] = ()  # volumes that go with their instance
    shared: tuple[str, ...] = ()  # the EBS volume behind /data

    def instances(self) -> dict[str, str]:
        """Every instance of the cluster in moto, with its state."""
        ec2 = self.cli.twin.moto.client("ec2", REGION)
        mine = [{"Name": f"tag:{CLUSTER_TAG}", "Values": [self.name]}]
        return {
            i["InstanceId"]: i["State"]["Name"]
            for r in ec2.describe_instances(Filters=mine)["Reservations"]
            for i in r["Instances"]
        }

    def volumes(self) -> list[dict[str, Any]]:
        """The volumes attached to the cluster's instances, and those tagged with it."""
        ec2 = self.cli.twin.moto.client("ec2", REGION)
        attached = [{"Name": "attachment.instance-id", "Values": list(self.instances())}]
        mine = [{"Name": f"tag:{CLUSTER_TAG}", "Values": [self.name]}]
        found = ec2.describe_volumes(Filters=attached)["Volumes"]
        found += ec2.describe_volumes(Filters=mine)["Volumes"]
        return list({v["VolumeId"]: v for v in found}.values())

    def nodes(self) -> dict[str, str]:
        """The twin's node containers, with their status."""
        import docker

        client = docker.from_env()
        try:
            selector = {"label": f"{TWIN_LABEL}={self.cli.twin.twin_id}"}
            return {c.name: c.status for c in client.containers.list(all=True, filters=selector)}
        finally:
            client.close()

    def machines(self) -> list[str]:
        """Node containers and loop devices the twin still holds (not the kept volume's file)."""
        return [m for m in self.cli.twin.machines() if m.startswith(("container", "loop"))]


@pytest.fixture(scope="module")
def leased(ec2_twin: Twin, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Leased]:
    cli = TwinCli(tmp_path_factory.mktemp("home"), ec2_twin)
    live = Leased(unique_name("lease"), cli)
    try:
        yield live
    finally:
        clean_up(cli, live.name)


def tag_of(resource: dict[str, Any], key: str) -> str:
    return next((t["Value"] for t in resource.get("Tags", []) if t["Key"] == key), "")


def seconds_left(leased: Leased) -> float:
    lease = leased.cli.status(leased.name)["lease"]
    assert lease["source"] == "controller", lease
    return float(lease["seconds_left"])


def test_create_with_a_short_lease_then_extend_before_its_end(leased: Leased) -> None:
    leased.cli.setup()
    flags = ("--workers", "1", "--max-hours", LEASE_HOURS, "--yes")
    leased.cli.ok("create", "--name", leased.name, *flags)
    leased.first_end = time.monotonic() + seconds_left(leased)
    result = leased.cli.ok("extend", leased.name, EXTENDED_HOURS)
    assert "now ends in 2 min" in result.stdout
    leased.extended_end = time.monotonic() + seconds_left(leased)
    assert leased.extended_end > leased.first_end + TIMERS, "the extend came too late to test"
    volumes = leased.volumes()
    roles = {v["VolumeId"]: tag_of(v, "clusterous:role") for v in volumes}
    leased.roots = tuple(v for v, role in roles.items() if role == "root-disk")
    leased.shared = tuple(v for v, role in roles.items() if role != "root-disk")
    assert (len(leased.roots), len(leased.shared)) == (3, 1), volumes


def test_the_extended_cluster_outlives_its_first_end(leased: Leased) -> None:
    while time.monotonic() < leased.first_end + TIMERS:
        states = leased.instances()
        assert set(states.values()) == {"running"} and len(states) == 3, states
        time.sleep(2)
    nodes = leased.nodes()
    assert list(nodes.values()) == ["running"] * 3, nodes


def test_every_instance_terminates_itself_at_the_end_of_its_lease(leased: Leased) -> None:
    deadline = leased.extended_end + TIMERS + MARGIN
    while set(leased.instances().values()) != {"terminated"}:
        assert time.monotonic() < deadline, leased.instances()
        time.sleep(2)
    assert len(leased.instances()) == 3
    assert leased.machines() == []  # no node container, no loop device


def test_the_root_volumes_went_with_their_instances_and_the_shared_one_is_kept(
    leased: Leased,
) -> None:
    volumes = {v["VolumeId"]: v for v in leased.volumes()}
    assert set(volumes) == set(leased.shared), volumes
    assert [(v["State"], v["Attachments"]) for v in volumes.values()] == [("available", [])]


def test_status_says_the_lease_ended_the_cluster_and_what_to_run(leased: Leased) -> None:
    status = leased.cli("status", leased.name)
    assert "its lease (or idle stop) ended them" in status.stderr, status.output
    assert f"clusterous destroy {leased.name}" in status.stderr
    assert "Traceback" not in status.output
    extend = leased.cli("extend", leased.name)
    assert extend.returncode == 1, extend.output
    assert "has already ended" in extend.stderr and "clusterous destroy" in extend.stderr


def test_destroy_sweeps_the_rest_and_leaves_nothing(leased: Leased) -> None:
    leased.cli.ok("destroy", leased.name, "--yes", "--delete-volume")
    assert tagged(leased.cli.twin, leased.name) == []
    assert leased.cli.twin.machines() == []
