"""Launching a cluster's nodes on EC2: one run_instances per group, with one user-data for all.

Each group's nodes launch together from the same user-data (the node
bootstrap, ``clusterous.node.userdata``); spot first when asked, on-demand
when allowed, and in each market every zone offering the type, the
controller's first. Each launch is tagged with what 'workon' on another
machine needs (the host key, the market), and recorded the moment it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from clusterous.aws.ec2 import CapacityError, Ec2, Instance, LaunchSpec, QuotaError
from clusterous.aws.iam import role_name
from clusterous.aws.tags import (
    FIRST_INDEX_TAG,
    GROUP_TAG,
    HOST_KEY_TAG,
    IDLE_MINUTES_TAG,
    LEASE_SECONDS_TAG,
    SPOT_FALLBACK_TAG,
    SPOT_TAG,
    TAG_VALUE_LIMIT,
)
from clusterous.errors import ClusterousError
from clusterous.node.userdata import user_data
from clusterous.providers.aws.catalog import AwsCatalog
from clusterous.providers.aws.network import ClusterNetwork, Placement, Tags
from clusterous.providers.base import NodeRequest, Recorder, Say, launches, record_nodes
from clusterous.records import NodeRecord

LAUNCH_TIMEOUT = 600.0


def shared_device(volume_id: str, nitro: bool) -> str:
    """Where the attached volume appears: by its id on Nitro (NVMe), /dev/xvdf on Xen."""
    if nitro:
        return f"/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_{volume_id.replace('-', '')}"
    return "/dev/xvdf"


class Launcher:
    """The launches of one provider object (one CLI command)."""

    def __init__(
        self,
        ec2: Callable[[], Ec2],
        cluster: str,
        key_pair: str | None,
        catalog: AwsCatalog,
        network: ClusterNetwork,
        placement: Placement,
        tags: Tags,
    ) -> None:
        self.ec2 = ec2
        self.cluster = cluster
        self.key_pair = key_pair
        self.catalog = catalog
        self.network = network
        self.placement = placement
        self.tags = tags

    def launch(
        self, requests: Sequence[NodeRequest], recorder: Recorder, say: Say
    ) -> list[NodeRecord]:
        records: list[NodeRecord] = []
        for batch in launches(requests):  # one run_instances each
            records += self._launch_batch(batch, recorder, say)
        return records

    def _launch_batch(
        self, batch: list[NodeRequest], recorder: Recorder, say: Say
    ) -> list[NodeRecord]:
        first = batch[0]
        self.catalog.check_instance_types([first.instance_type])
        info = self.catalog.types[first.instance_type]
        params = first.bootstrap
        if params is None:
            raise ClusterousError("internal: an AWS launch needs bootstrap parameters")
        volume = self.placement.volume
        if first.role == "controller" and volume:
            params = replace(params, shared_device=shared_device(volume, info.nitro))
        names = [r.name for r in batch]
        instances = self._run_with_fallback(batch, user_data(params, names), recorder, say)
        return self._settle(batch, instances, recorder)

    def _run_with_fallback(
        self, batch: list[NodeRequest], data: bytes, recorder: Recorder, say: Say
    ) -> list[Instance]:
        """Spot then on-demand (when allowed); in each, every zone offering the type."""
        first = batch[0]
        markets = (
            [True, False] if first.spot and first.spot_fallback == "on-demand" else [first.spot]
        )
        failure: ClusterousError | None = None
        for spot in markets:
            for zone in self._launch_zones(first):
                try:
                    return self._run(batch, data, zone, spot, recorder)
                except CapacityError as problem:
                    failure = problem
                    say(f"no capacity for {first.instance_type} in {zone}: trying further")
                except QuotaError as problem:
                    if not (problem.spot and spot and len(markets) > 1):
                        raise
                    failure = problem
                    say(f"spot quota reached for {first.instance_type}: trying on-demand")
                    break  # a quota is the region's: no other zone helps
        assert failure is not None
        raise failure

    def _launch_zones(self, request: NodeRequest) -> list[str]:
        if request.role == "controller":
            return [self.placement.zone or self.catalog.primary_zone()]
        zones = sorted(self.catalog.zones[request.instance_type])
        home = self.placement.zone or (zones[0] if zones else "")
        return sorted(zones, key=lambda z: (z != home, z))

    def _run(
        self, batch: list[NodeRequest], data: bytes, zone: str, spot: bool, recorder: Recorder
    ) -> list[Instance]:
        first = batch[0]
        image, root = self.catalog.image_for(self.catalog.types[first.instance_type].architecture)
        network = self.network.known()
        subnet = self.network.subnet_in(zone, recorder)
        tags = self.tags(
            "controller" if first.role == "controller" else first.group,
            first.group,
            **{GROUP_TAG: first.group, FIRST_INDEX_TAG: str(node_number(first.name))},
        )
        ec2 = self.ec2()
        spec = LaunchSpec(
            image_id=image,
            instance_type=first.instance_type,
            count=len(batch),
            subnet_id=subnet,
            zone=zone,
            security_group_id=network.group_for(first.role),
            user_data=data,
            tags=tags,
            root_device=root,
            key_name=self.key_pair,
            instance_profile=(
                role_name(self.cluster, ec2.region) if first.role == "controller" else None
            ),
            spot=spot,
            public_ip=self.network.needs_public_ip(first.role),
            instance_tags=launch_tags(first),
        )
        instances = ec2.run_cluster_instances(spec)
        launched = []
        for instance in instances:
            request = batch[instance.launch_index]
            launched.append(
                NodeRecord(request.name, request.group, request.instance_type, instance.id)
            )
        record_nodes(recorder, launched)
        return instances

    def _settle(
        self, batch: list[NodeRequest], instances: list[Instance], recorder: Recorder
    ) -> list[NodeRecord]:
        """Record the addresses; the controller is waited for (public address, volume).

        Other nodes have their private address from the launch itself and are
        reached through the controller; whether they run is proven when they
        join the Swarm, so no per-launch polling grows with their number.
        """
        ec2 = self.ec2()
        by_id = {i.id: i for i in instances}
        if batch[0].role == "controller":
            ids = [i.id for i in instances]
            by_id = {i.id: i for i in ec2.wait_running(ids, ec2.clock() + LAUNCH_TIMEOUT)}
        records = []
        for instance in instances:
            now = by_id[instance.id]
            request = batch[instance.launch_index]
            controller = request.role == "controller"
            if controller and self.placement.volume:
                ec2.attach_volume(self.placement.volume, now.id, "/dev/sdf")
            record = NodeRecord(
                request.name,
                request.group,
                request.instance_type,
                now.id,
                private_addr=now.private_ip,
                ssh_host=now.public_ip if controller else "",
                ssh_port=22 if controller else 0,
            )
            records.append(record)
        record_nodes(recorder, records)
        return records


def launch_tags(request: NodeRequest) -> dict[str, str]:
    """What 'workon' on another machine needs of a launch: host key, market, lease."""
    host_key = " ".join(request.host_key.public_openssh.split()[:2])  # no comment
    if len(host_key) > TAG_VALUE_LIMIT:
        raise ValueError(f"host key of {len(host_key)} characters does not fit a tag")
    return {
        HOST_KEY_TAG: host_key,
        SPOT_TAG: "true" if request.spot else "false",
        SPOT_FALLBACK_TAG: request.spot_fallback,
        LEASE_SECONDS_TAG: request.bootstrap.lease_seconds or "0",
        IDLE_MINUTES_TAG: request.bootstrap.idle_minutes or "0",
    }


def node_number(name: str) -> int:
    suffix = name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def node_name_of(instance: Instance) -> str:
    """``controller``, or ``<group>-<first + launch index>`` from the launch's tags."""
    group = instance.tags.get(GROUP_TAG, "")
    if group == "controller":
        return "controller"
    first = int(instance.tags.get(FIRST_INDEX_TAG, "1") or 1)
    return f"{group}-{first + instance.launch_index}"
