"""Taking over an AWS cluster made elsewhere ('workon' on another machine), from its tags alone.

Nothing is asked of the nodes and nothing sent to them: they already accept
the profile's key pair, and the host keys to pin come from the instances'
tags, written at launch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from clusterous.aws.ec2 import Ec2, Instance
from clusterous.aws.iam import Iam
from clusterous.aws.tags import (
    CLUSTER_ID_TAG,
    GROUP_TAG,
    HOST_KEY_TAG,
    IDLE_MINUTES_TAG,
    LEASE_SECONDS_TAG,
    ROLE_TAG,
    SPOT_FALLBACK_TAG,
    SPOT_TAG,
    cluster_filter,
)
from clusterous.errors import ClusterousError, InputError
from clusterous.providers.aws.launch import node_name_of
from clusterous.providers.base import Adoption
from clusterous.records import ClusterState, GroupMarket, LeaseRecord, NodeRecord, ResourceRecord
from clusterous.remote.keys import KeyPair

if TYPE_CHECKING:
    from clusterous.config import Profile

IAM_KINDS = {"role": "iam-role", "instance-profile": "instance-profile"}
# A stopped cluster is taken over too: 'clusterous start' brings it back from here.
ADOPTABLE_STATES = ("pending", "running", "stopping", "stopped")


class AwsAdopter:
    def __init__(
        self, ec2: Callable[[], Ec2], iam: Callable[[], Iam], cluster: str, profile: Profile
    ) -> None:
        self.ec2 = ec2
        self.iam = iam
        self.cluster = cluster
        self.profile = profile

    def adopt(self, login_key: KeyPair) -> Adoption:
        """Rebuild the ledger of the cluster, with the host key of each node to pin.

        ``login_key`` is not sent anywhere: the nodes accept the profile's key
        pair already.
        """
        ec2 = self.ec2()
        instances = ec2.find_instances(cluster_filter(self.cluster), ADOPTABLE_STATES)
        controller = next((i for i in instances if node_name_of(i) == "controller"), None)
        if controller is None:
            raise ClusterousError(
                f"cluster {self.cluster!r} has no controller left in {ec2.region}",
                "its instances ended (the lease may have run out) or were terminated",
                f"remove what is left with 'clusterous destroy {self.cluster}'",
            )
        self._check_adoptable(instances, controller)
        state = ClusterState(self.cluster, "aws", self.profile.name, status=status_of(instances))
        state.lease = lease_of(controller)
        state.private_cidr = next(iter(ec2.vpc_cidrs(cluster_filter(self.cluster))), "")
        state.nodes = sorted((adopted_node(i) for i in instances), key=lambda n: n.name)
        state.resources = self._found_resources(controller.id)
        state.groups = group_markets(instances)
        state.cluster_id = controller.tags.get(CLUSTER_ID_TAG, "")
        host_keys = {node_name_of(i): i.tags[HOST_KEY_TAG] for i in instances}
        return Adoption(state, host_keys)

    def _check_adoptable(self, instances: Sequence[Instance], controller: Instance) -> None:
        if any(HOST_KEY_TAG not in i.tags for i in instances):
            raise ClusterousError(
                f"cluster {self.cluster!r} cannot be taken over from here",
                "it was made by an older clusterous: its nodes do not carry their host keys "
                "in tags, and accept only the login key of the machine that made it",
                f"work on it from that machine, or destroy it here with "
                f"'clusterous destroy {self.cluster}' (that works from the tags alone)",
            )
        if controller.key_name and controller.key_name != self.profile.key_pair:
            raise InputError(
                f"cluster {self.cluster!r} was made with the EC2 key pair "
                f"{controller.key_name!r}; profile {self.profile.name!r} uses "
                f"{self.profile.key_pair!r}",
                "only the private key of that key pair opens its nodes",
                f"run 'clusterous setup --key-pair {controller.key_name} --key-file PATH' "
                "with that key's private file, then 'clusterous workon' again",
            )

    def _found_resources(self, controller_id: str) -> list[ResourceRecord]:
        """The network, volume and role of the cluster, found by tag and by name."""
        ec2 = self.ec2()
        ours = cluster_filter(self.cluster)
        pieces = ec2.find_network(ours)
        found = [ResourceRecord("vpc", v, "network") for v in pieces.vpcs]
        found += [
            ResourceRecord("internet-gateway", g, "internet gateway") for g, _ in pieces.gateways
        ]
        found += [ResourceRecord("route-table", t, "route table") for t, _ in pieces.route_tables]
        found += [ResourceRecord("security-group", g, "firewall") for g in pieces.security_groups]
        found += [
            ResourceRecord("subnet", s, f"subnet in {z}")
            for z, s in sorted(ec2.subnets_by_zone(ours).items())
        ]
        found += self._found_volumes(controller_id)
        for what in sorted(self.iam().find_cluster_identities(self.cluster)):
            kind, name = what.split(" ", 1)
            found.append(ResourceRecord(IAM_KINDS[kind], f"{kind}/{name}", f"controller {kind}"))
        return found

    def _found_volumes(self, controller_id: str) -> list[ResourceRecord]:
        """The shared volume: made by clusterous (tagged), or brought by the user (kept)."""
        attached = self.ec2().find_volumes(
            [{"Name": "attachment.instance-id", "Values": [controller_id]}]
        )
        found = []
        for volume in attached:
            role = volume.tags.get(ROLE_TAG)
            if role == "volume":
                found.append(ResourceRecord("volume", volume.id, "shared volume"))
            elif role is None:
                found.append(
                    ResourceRecord("volume", volume.id, "shared volume (yours)", keep=True)
                )
        return found


def adopted_node(instance: Instance) -> NodeRecord:
    name = node_name_of(instance)
    controller = name == "controller"
    return NodeRecord(
        name,
        instance.tags.get(GROUP_TAG, ""),
        instance.instance_type,
        instance.id,
        private_addr=instance.private_ip,
        ssh_host=instance.public_ip if controller else "",
        ssh_port=22 if controller else 0,
        ready=instance.state == "running",
    )


def status_of(instances: Sequence[Instance]) -> str:
    """ "ready" when every instance runs, "stopped" when none does, else "stopping".

    A half-stopped cluster (a 'stop' cut short) is "stopping": 'stop' or 'start'
    finishes it, as on the machine that made it.
    """
    running = [i.state in ("pending", "running") for i in instances]
    if all(running):
        return "ready"
    return "stopping" if any(running) else "stopped"


def lease_of(controller: Instance) -> LeaseRecord:
    """The lease the cluster was made with, from its launch tags; none for an older cluster.

    Its end is not known here: the first command that reaches the controller
    renews the lease and hears it.
    """
    seconds = _count(controller.tags.get(LEASE_SECONDS_TAG, ""))
    return LeaseRecord(seconds / 3600, _count(controller.tags.get(IDLE_MINUTES_TAG, "")))


def _count(text: str) -> int:
    return int(text) if text.isdigit() else 0


def group_markets(instances: Sequence[Instance]) -> dict[str, GroupMarket]:
    """Per node group, the market its launches asked for (what add-nodes repeats)."""
    markets: dict[str, GroupMarket] = {}
    for instance in instances:
        group = instance.tags.get(GROUP_TAG, "")
        if group and group != "controller":
            markets[group] = GroupMarket(
                spot=instance.tags.get(SPOT_TAG, str(instance.spot).lower()) == "true",
                spot_fallback=instance.tags.get(SPOT_FALLBACK_TAG, "on-demand"),
            )
    return markets
