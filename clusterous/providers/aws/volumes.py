"""Shared volumes that outlive their cluster: find them by tag, delete one, ask before a destroy.

``destroy --keep-volume`` leaves a cluster's gp3 volume (and its files) in
place, tagged ``clusterous:keep=true``; it costs money until removed. This is
the provider's ``kept_volumes`` capability, behind ``clusterous ls-volumes``
and ``clusterous rm-volume ID``. Only volumes that clusterous made (tagged with
the role ``volume``) are listed; those, and root disks an instance left behind
(tagged ``root-disk``, attached to nothing), can be deleted; a volume a user
brought is never touched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clusterous.aws.ec2 import Ec2, Volume
from clusterous.aws.tags import CLUSTER_TAG, KEEP_TAG, ROLE_TAG, cluster_filter
from clusterous.errors import InputError, NotFoundError
from clusterous.providers.base import KeptVolume
from clusterous.records import ClusterState

REMOVABLE_ROLES = ("volume", "root-disk")  # never a volume the user brought (untagged)


def shared_volume_filters() -> list[dict[str, Any]]:
    return [
        {"Name": "tag-key", "Values": [CLUSTER_TAG]},
        {"Name": f"tag:{ROLE_TAG}", "Values": ["volume"]},
    ]


def is_shared_volume(volume: Volume) -> bool:
    return volume.tags.get(ROLE_TAG) == "volume"


def brought_volumes(state: ClusterState | None) -> set[str]:
    """The volumes the user brought (recorded as kept): never deleted, never asked about."""
    return {r.id for r in (state.resources if state else []) if r.keep}


def kept_volume(volume: Volume) -> KeptVolume:
    return KeptVolume(
        id=volume.id,
        cluster=volume.tags.get(CLUSTER_TAG, ""),
        size_gib=volume.size_gib,
        zone=volume.zone,
        state=volume.state,
        kept=bool(volume.tags.get(KEEP_TAG)),
        attached_to=volume.attached_to,
    )


class AwsKeptVolumes:
    free_to_keep = False  # an EBS volume is billed while it exists

    def __init__(self, ec2: Callable[[], Ec2], cluster: str) -> None:
        self.ec2 = ec2
        self.cluster = cluster

    def find(self) -> list[KeptVolume]:
        """Every shared volume clusterous made in the region, kept or in use."""
        found = self.ec2().find_volumes(shared_volume_filters())
        return sorted((kept_volume(v) for v in found), key=lambda v: (v.cluster, v.id))

    def remove(self, volume_id: str) -> KeptVolume:
        """Delete a shared volume clusterous made, or a root disk left without its instance,
        when no instance uses it; return what it was."""
        found = self.ec2().describe_volume(volume_id)
        if found is None or found.tags.get(ROLE_TAG) not in REMOVABLE_ROLES:
            raise NotFoundError(
                f"no volume {volume_id} of clusterous in {self.ec2().region}",
                "only shared volumes clusterous made, and root disks left without their "
                "instance, can be removed here",
                "see 'clusterous ls-volumes', or 'clusterous ls-clusters --all-regions'",
            )
        volume = kept_volume(found)
        if volume.attached_to:
            raise InputError(
                f"volume {volume_id} is in use by {', '.join(volume.attached_to)} "
                f"(cluster {volume.cluster})",
                None,
                f"destroy the cluster first: 'clusterous destroy {volume.cluster} --delete-volume'",
            )
        self.ec2().delete_volume(volume_id)
        return volume

    def question(self, state: ClusterState | None) -> str | None:
        """The cluster's shared volume a destroy would delete (AWS volumes cost: always ask)."""
        brought = brought_volumes(state)
        for volume in self.ec2().find_volumes(cluster_filter(self.cluster)):
            kept = volume.tags.get(KEEP_TAG)  # a destroy never deletes it: rm-volume does
            if is_shared_volume(volume) and volume.id not in brought and not kept:
                return f"{volume.id} ({volume.size_gib} GiB)"
        return None
