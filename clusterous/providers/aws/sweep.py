"""Teardown on AWS: the phases of the sweep (``providers.sweep``), in dependency order.

Instances first (and wait until they are terminated: their network interfaces
hold the security group and subnet: the registry writes no more), then the
registry's objects and unfinished uploads under its S3 prefix (or, with
``keep_images``, a note of what is kept and its size), then the shared volume
(deleted or kept), then security groups, route tables, subnets, internet gateways, VPCs, and the
IAM role and instance profile of the controller. Everything already gone
counts as removed, so a sweep can run any number of times, after a failed
create or with the local state lost. The re-listing is by tag, by IAM name and
by the registry's prefix. A prefix S3 refuses to list (a bucket policy, a
missing permission) is reported as left, with what to do, and the sweep goes
on with the volumes, the network and the IAM role.
"""

from __future__ import annotations

from collections.abc import Sequence

from clusterous.aws.ec2 import Ec2, NetworkPieces, Volume
from clusterous.aws.iam import Iam
from clusterous.aws.registry_store import RegistryStore
from clusterous.aws.tags import KEEP_TAG, ROLE_TAG, cluster_filter
from clusterous.errors import ClusterousError
from clusterous.providers.aws.volumes import brought_volumes, is_shared_volume
from clusterous.providers.base import Leftover, Say, SweepResult
from clusterous.providers.sweep import AllAtOnce, Phase, Sweep, unlisted
from clusterous.records import ClusterState

TERMINATE_TIMEOUT = 900.0
VOLUME_TIMEOUT = 300.0


def is_root_disk_going(volume: Volume) -> bool:
    """A root disk AWS is deleting along with its terminated instance."""
    return volume.tags.get(ROLE_TAG) == "root-disk" and volume.state in ("in-use", "deleting")


class AwsSweep:
    """The phases of one cluster's sweep; they share what the network listing found."""

    def __init__(
        self,
        ec2: Ec2,
        iam: Iam,
        cluster: str,
        identity: str,
        say: Say,
        store: RegistryStore | None = None,
    ) -> None:
        self.ec2 = ec2
        self.iam = iam
        self.cluster = cluster
        self.identity = identity  # the IAM role and instance profile name
        self.say = say
        self.store = store  # the registry's S3 prefix (None: the profile has no bucket)
        self.keep_images = False
        self._pieces = NetworkPieces()

    def run(
        self, state: ClusterState | None, keep_volume: bool, keep_images: bool = False
    ) -> SweepResult:
        self.keep_images = keep_images
        result = SweepResult()
        result.kept += [
            f"shared volume {v} (brought by you: never deleted)"
            for v in sorted(brought_volumes(state))
        ]
        sweep = Sweep(state, self.say, result)
        return sweep.run(self.phases(state, keep_volume, result), self.leftovers)

    def phases(
        self, state: ClusterState | None, keep_volume: bool, result: SweepResult
    ) -> list[Phase | AllAtOnce]:
        ec2 = self.ec2
        return [
            AllAtOnce(
                "instance",
                self._instances,
                self._terminate,
                recorded=lambda s: [n.instance_id for n in s.nodes if n.instance_id],
            ),
            AllAtOnce(
                "registry-prefix",
                lambda: self._registry(result),
                self._empty_registry,
                unlisted=self._unlisted_prefix(),
            ),
            Phase(
                "volume",
                lambda: self._volumes(state, keep_volume, result),
                self._delete_volume,
                recorded=lambda s: [],  # a volume's tag is set at creation: found by it
                after=self._wait_root_disks_gone,
            ),
            Phase("security-group", self._groups, ec2.delete_security_group),
            Phase("route-table", self._tables, self._delete_table),
            Phase("subnet", lambda: self._pieces.subnets, ec2.delete_subnet),
            Phase("internet-gateway", self._gateways, self._delete_gateway),
            Phase("vpc", lambda: self._pieces.vpcs, ec2.delete_vpc, done="removed the network"),
            Phase("iam-role", self._identity, self._delete_identity, recorded=lambda s: []),
        ]

    # -- instances -------------------------------------------------------------------

    def _instances(self) -> list[str]:
        return self.ec2.tagged_instance_ids(self.cluster)

    def _terminate(self, ids: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        states = self.ec2.instance_states(sorted(i for i in ids if i.startswith("i-")))
        alive = sorted(i for i, s in states.items() if s not in ("terminated", "shutting-down"))
        going = sorted(i for i, s in states.items() if s != "terminated")
        if not going:
            return [], {}
        self.ec2.terminate_instances(alive)
        self.say(f"terminating {len(going)} instance(s)")
        left = self.ec2.wait_terminated(going, self.ec2.clock() + TERMINATE_TIMEOUT)
        self.say(f"terminated {len(going) - len(left)} instance(s)")
        return [i for i in alive if i not in left], {i: "still terminating" for i in left}

    # -- the registry's S3 prefix: all its objects and unfinished uploads at once ----------

    def _registry(self, result: SweepResult) -> list[str]:
        if self.store is None:
            return []
        contents = self.store.contents()
        if contents.empty:
            return []
        if self.keep_images:
            result.kept.append(
                f"registry images {self.store.url} ({contents.describe()}, still billed; "
                f"delete them with 'aws s3 rm --recursive {self.store.url}')"
            )
            self.say(f"kept the registry images in {self.store.url}")
            return []
        return [self.store.url]

    def _unlisted_prefix(self) -> Leftover | None:
        """The prefix S3 would not list (say, a bucket policy): the rest of the sweep goes on."""
        if self.store is None:
            return None
        url = self.store.url
        return Leftover(
            "registry-prefix",
            url,
            f"once it can be listed, run 'clusterous destroy {self.cluster}' again, or delete "
            f"it with 'aws s3 rm --recursive {url}'",
        )

    def _empty_registry(self, ids: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        assert self.store is not None  # found only with a store
        left = self.store.empty()
        if not left.empty:
            return [], {self.store.url: f"still holds {left.describe()}"}
        self.say(f"deleted the registry images in {self.store.url}")
        return list(ids), {}

    # -- volumes -----------------------------------------------------------------------

    def _volumes(
        self, state: ClusterState | None, keep_volume: bool, result: SweepResult
    ) -> list[str]:
        """The volumes to delete; the shared one kept (and tagged so) when asked."""
        brought = brought_volumes(state)
        doomed = []
        for volume in self.ec2.find_volumes(cluster_filter(self.cluster)):
            if volume.id in brought or is_root_disk_going(volume):
                continue
            if is_shared_volume(volume) and (keep_volume or volume.tags.get(KEEP_TAG)):
                self._keep(volume, result)
            else:
                doomed.append(volume.id)
        return doomed

    def _keep(self, volume: Volume, result: SweepResult) -> None:
        if not volume.tags.get(KEEP_TAG):
            self.ec2.tag_volume(volume.id, {KEEP_TAG: "true"})
        result.kept.append(
            f"shared volume {volume.id} ({volume.size_gib} GiB, still billed; "
            f"delete it with 'clusterous rm-volume {volume.id}')"
        )
        self.say(f"kept the shared volume {volume.id}")

    def _delete_volume(self, volume_id: str) -> None:
        volume = self.ec2.describe_volume(volume_id)
        for instance in volume.attached_to if volume else ():
            self.ec2.detach_volume(volume_id, instance)
        self.ec2.wait_volume(volume_id, "available", self.ec2.clock() + VOLUME_TIMEOUT)
        self.ec2.delete_volume(volume_id)
        self.say(f"deleted volume {volume_id}")

    def _wait_root_disks_gone(self) -> None:
        """Root disks go with their instances (DeleteOnTermination): wait, do not delete."""
        deadline = self.ec2.clock() + VOLUME_TIMEOUT
        while self.ec2.clock() < deadline:
            found = self.ec2.find_volumes(cluster_filter(self.cluster))
            if not any(is_root_disk_going(v) for v in found):
                return
            self.ec2.sleep(3)

    # -- network: listed once, by tag; the ledger adds what lost its tag ----------------

    def _groups(self) -> list[str]:
        self._pieces = self.ec2.find_network(cluster_filter(self.cluster))
        return self._pieces.security_groups

    def _tables(self) -> list[str]:
        return [t for t, _ in self._pieces.route_tables]

    def _delete_table(self, table: str) -> None:
        associations = dict(self._pieces.route_tables).get(table, [])
        self.ec2.delete_route_table(table, associations)

    def _gateways(self) -> list[str]:
        return [g for g, _ in self._pieces.gateways]

    def _delete_gateway(self, gateway: str) -> None:
        self.ec2.delete_internet_gateway(gateway, dict(self._pieces.gateways).get(gateway, []))

    # -- identity: by name, so without any listing ----------------------------------------

    def _identity(self) -> list[str]:
        return [self.identity] if self.iam.controller_identity_exists(self.identity) else []

    def _delete_identity(self, name: str) -> None:
        self.iam.delete_controller_identity(name)
        self.say(f"removed the IAM role and instance profile {name}")

    # -- proof ------------------------------------------------------------------------------

    def leftovers(self) -> list[Leftover]:
        """Everything still tagged with the cluster (kept volumes aside), its IAM pieces, and
        its registry prefix unless its images are kept."""
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
        for what in self.iam.find_cluster_identities(self.cluster):
            kind, ident = what.split(" ", 1)
            left.append(Leftover(kind, ident))
        if self.store is not None and not self.keep_images:
            left += self._prefix_left()
        return left

    def _prefix_left(self) -> list[Leftover]:
        assert self.store is not None
        try:
            contents = self.store.contents()
        except ClusterousError as problem:
            unlisted_prefix = self._unlisted_prefix()
            assert unlisted_prefix is not None
            return [unlisted(unlisted_prefix, problem)]
        if contents.empty:
            return []
        return [Leftover("registry-prefix", self.store.url, contents.describe())]
