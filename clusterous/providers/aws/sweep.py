"""Teardown on AWS: the ledger plus everything tagged with the cluster, in dependency order.

Instances first (and wait until they are terminated: their network interfaces
hold the security group and subnet), then the shared volume (deleted or kept),
then security group, route table, subnets, internet gateway, VPC, and the IAM
instance profile and role. Everything already gone counts as removed, so a
sweep can run any number of times, after a failed create or with the local
state lost. It ends by listing again, by tag and by IAM name.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from clusterous.aws.ec2 import Ec2, NetworkPieces, Volume
from clusterous.aws.tags import KEEP_TAG, ROLE_TAG, cluster_filter
from clusterous.errors import ClusterousError
from clusterous.providers.base import Leftover, Report, SweepReport
from clusterous.records import ClusterState

if TYPE_CHECKING:
    from clusterous.providers.aws.provider import AwsProvider, Network

TERMINATE_TIMEOUT = 900.0
VOLUME_TIMEOUT = 300.0


def find_cluster_network(ec2: Ec2, cluster: str) -> Network | None:
    """The network of a running cluster, found by tag (add-nodes in a later CLI run)."""
    from clusterous.providers.aws.provider import Network, security_group_names

    pieces = ec2.find_network(cluster_filter(cluster))
    groups = ec2.security_groups_by_name(cluster_filter(cluster))
    controller, nodes = security_group_names(cluster)
    if not pieces.vpcs or controller not in groups or not pieces.route_tables:
        return None
    subnets = ec2.subnets_by_zone(cluster_filter(cluster))
    return Network(
        pieces.vpcs[0],
        pieces.route_tables[0][0],
        groups[controller],
        dict(subnets),
        groups.get(nodes, ""),
    )


def is_shared_volume(volume: Volume) -> bool:
    return volume.tags.get(ROLE_TAG) == "volume"


def is_root_disk_going(volume: Volume) -> bool:
    """A root disk AWS is deleting along with its terminated instance."""
    return volume.tags.get(ROLE_TAG) == "root-disk" and volume.state in ("in-use", "deleting")


class Sweeper:
    def __init__(self, provider: AwsProvider, report: Report) -> None:
        self.provider = provider
        self.ec2 = provider.ec2
        self.report = report
        self.cluster = provider.cluster

    def sweep(self, state: ClusterState | None, keep_volume: bool) -> SweepReport:
        result = SweepReport()
        self._instances(state, result)
        self._volumes(state, keep_volume, result)
        self._network(state, result)
        self._identity(result)
        result.leftovers = self.leftovers()
        return result

    def _guarded(
        self, result: SweepReport, kind: str, ident: str, action: Callable[[], None]
    ) -> bool:
        """Run one removal; a failure becomes a leftover with its reason, the sweep goes on.

        True only when AWS accepted the removal (or the thing was already gone).
        """
        try:
            action()
        except ClusterousError as problem:
            result.leftovers.append(Leftover(kind, ident, problem.render()))
            self.report(f"could not remove {kind} {ident}: {problem.what}")
            return False
        result.removed.append(f"{kind} {ident}")
        return True

    # -- instances ---------------------------------------------------------------

    def _instances(self, state: ClusterState | None, result: SweepReport) -> None:
        ids = set(self.ec2.tagged_instance_ids(self.cluster))
        ids |= {n.instance_id for n in (state.nodes if state else [])}
        states = self.ec2.instance_states(sorted(i for i in ids if i.startswith("i-")))
        alive = sorted(i for i, s in states.items() if s not in ("terminated", "shutting-down"))
        going = sorted(i for i, s in states.items() if s != "terminated")
        if not going:
            return
        self.ec2.terminate_instances(alive)
        self.report(f"terminating {len(going)} instance(s)")
        left = self.ec2.wait_terminated(going, self.ec2.clock() + TERMINATE_TIMEOUT)
        result.removed += [f"instance {i}" for i in alive if i not in left]
        result.leftovers += [Leftover("instance", i, "still terminating") for i in left]
        self.report(f"terminated {len(going) - len(left)} instance(s)")

    # -- volumes -------------------------------------------------------------------

    def _volumes(self, state: ClusterState | None, keep_volume: bool, result: SweepReport) -> None:
        brought = {r.id for r in (state.resources if state else []) if r.keep}
        for volume_id in sorted(brought):
            result.kept.append(f"shared volume {volume_id} (brought by you: never deleted)")
        for volume in self.ec2.find_volumes(cluster_filter(self.cluster)):
            if volume.id in brought or is_root_disk_going(volume):
                continue
            if is_shared_volume(volume) and (keep_volume or volume.tags.get(KEEP_TAG)):
                self._keep(volume, result)
            else:
                if self._guarded(result, "volume", volume.id, partial(self._delete, volume)):
                    self.report(f"deleted volume {volume.id}")
        self._wait_root_disks_gone()

    def _wait_root_disks_gone(self) -> None:
        """Root disks go with their instances (DeleteOnTermination): wait, do not delete."""
        deadline = self.ec2.clock() + VOLUME_TIMEOUT
        while self.ec2.clock() < deadline:
            found = self.ec2.find_volumes(cluster_filter(self.cluster))
            if not any(is_root_disk_going(v) for v in found):
                return
            self.ec2.sleep(3)

    def _keep(self, volume: Volume, result: SweepReport) -> None:
        if not volume.tags.get(KEEP_TAG):
            self.ec2.tag_volume(volume.id, {KEEP_TAG: "true"})
        result.kept.append(
            f"shared volume {volume.id} ({volume.size_gib} GiB, still billed; "
            f"delete it with 'clusterous rm-volume {volume.id}')"
        )
        self.report(f"kept the shared volume {volume.id}")

    def _delete(self, volume: Volume) -> None:
        for instance in volume.attached_to:
            self.ec2.detach_volume(volume.id, instance)
        self.ec2.wait_volume(volume.id, "available", self.ec2.clock() + VOLUME_TIMEOUT)
        self.ec2.delete_volume(volume.id)

    def deletable_volume(self, state: ClusterState | None) -> str | None:
        brought = {r.id for r in (state.resources if state else []) if r.keep}
        for volume in self.ec2.find_volumes(cluster_filter(self.cluster)):
            if is_shared_volume(volume) and volume.id not in brought:
                return f"{volume.id} ({volume.size_gib} GiB)"
        return None

    # -- network and identity -----------------------------------------------------------

    def _network(self, state: ClusterState | None, result: SweepReport) -> None:
        """Security groups, route tables, subnets, gateways, VPCs: each after what holds it."""
        pieces = merge_ledger(self.ec2.find_network(cluster_filter(self.cluster)), state)
        steps = [
            *(
                ("security-group", g, partial(self.ec2.delete_security_group, g))
                for g in pieces.security_groups
            ),
            *(
                ("route-table", t, partial(self.ec2.delete_route_table, t, associations))
                for t, associations in pieces.route_tables
            ),
            *(("subnet", s, partial(self.ec2.delete_subnet, s)) for s in pieces.subnets),
            *(
                ("internet-gateway", g, partial(self.ec2.delete_internet_gateway, g, vpcs))
                for g, vpcs in pieces.gateways
            ),
            *(("vpc", v, partial(self.ec2.delete_vpc, v)) for v in pieces.vpcs),
        ]
        removed = [self._guarded(result, kind, ident, action) for kind, ident, action in steps]
        if steps and all(removed):
            self.report("removed the network")

    def _identity(self, result: SweepReport) -> None:
        """By name (and so without any listing): the role and profile of this cluster."""
        name = self.provider.identity_name
        try:
            existed = self.provider.iam.delete_controller_identity(name)
        except ClusterousError as problem:
            result.leftovers.append(Leftover("iam-role", name, problem.render()))
            return
        if existed:
            result.removed.append(f"iam-role {name}")
            self.report(f"removed the IAM role and instance profile {name}")

    # -- proof ---------------------------------------------------------------------------

    def leftovers(self) -> list[Leftover]:
        """Everything still tagged with the cluster (kept volumes aside), and its IAM pieces."""
        found = cluster_filter(self.cluster)
        left = [Leftover("instance", i.id, i.state) for i in self.ec2.find_instances(found)]
        left += [
            Leftover("volume", v.id, v.state)
            for v in self.ec2.find_volumes(found)
            if not (is_shared_volume(v) and v.tags.get(KEEP_TAG))
        ]
        pieces = self.ec2.find_network(found)
        left += [Leftover("security-group", g) for g in pieces.security_groups]
        left += [Leftover("route-table", t) for t, _ in pieces.route_tables]
        left += [Leftover("subnet", s) for s in pieces.subnets]
        left += [Leftover("internet-gateway", g) for g, _ in pieces.gateways]
        left += [Leftover("vpc", v) for v in pieces.vpcs]
        for what in self.provider.iam.find_cluster_identities(self.cluster):
            kind, ident = what.split(" ", 1)
            left.append(Leftover(kind, ident))
        return left


def merge_ledger(pieces: NetworkPieces, state: ClusterState | None) -> NetworkPieces:
    """Add what only the ledger knows (a tag the sweep cannot see is still ours)."""
    if state is None:
        return pieces
    recorded = {r.kind: [] for r in state.resources}  # type: dict[str, list[str]]
    for resource in state.resources:
        recorded[resource.kind].append(resource.id)

    def extra(kind: str, known: list[str]) -> list[str]:
        return [i for i in recorded.get(kind, []) if i not in known]

    known_tables = [t for t, _ in pieces.route_tables]
    known_gateways = [g for g, _ in pieces.gateways]
    return NetworkPieces(
        vpcs=pieces.vpcs + extra("vpc", pieces.vpcs),
        subnets=pieces.subnets + extra("subnet", pieces.subnets),
        route_tables=pieces.route_tables + [(t, []) for t in extra("route-table", known_tables)],
        gateways=pieces.gateways + [(g, []) for g in extra("internet-gateway", known_gateways)],
        security_groups=pieces.security_groups + extra("security-group", pieces.security_groups),
    )
