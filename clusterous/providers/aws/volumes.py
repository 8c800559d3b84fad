"""Shared volumes kept after their cluster was destroyed: find them by tag, delete one.

``destroy --keep-volume`` leaves a cluster's gp3 volume (and its files) in
place, tagged ``clusterous:keep=true``; it costs money until removed. These
functions back ``clusterous ls-volumes`` and ``clusterous rm-volume ID``. Only
volumes that clusterous made (tagged with the role ``volume``) are listed or
deleted; a volume a user brought is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clusterous.aws.ec2 import Ec2
from clusterous.aws.tags import CLUSTER_TAG, KEEP_TAG, ROLE_TAG
from clusterous.errors import InputError, NotFoundError


@dataclass(frozen=True)
class SharedVolume:
    id: str
    cluster: str
    size_gib: int
    zone: str
    state: str
    kept: bool
    attached_to: tuple[str, ...]


def shared_volume_filters() -> list[dict[str, Any]]:
    return [
        {"Name": "tag-key", "Values": [CLUSTER_TAG]},
        {"Name": f"tag:{ROLE_TAG}", "Values": ["volume"]},
    ]


def list_shared_volumes(ec2: Ec2) -> list[SharedVolume]:
    """Every shared volume clusterous made in the region, kept or in use."""
    return sorted(
        (
            SharedVolume(
                id=v.id,
                cluster=v.tags.get(CLUSTER_TAG, ""),
                size_gib=v.size_gib,
                zone=v.zone,
                state=v.state,
                kept=bool(v.tags.get(KEEP_TAG)),
                attached_to=v.attached_to,
            )
            for v in ec2.find_volumes(shared_volume_filters())
        ),
        key=lambda v: (v.cluster, v.id),
    )


def remove_shared_volume(ec2: Ec2, volume_id: str) -> SharedVolume:
    """Delete a shared volume clusterous made and no instance uses; return what it was."""
    found = {v.id: v for v in list_shared_volumes(ec2)}
    volume = found.get(volume_id)
    if volume is None:
        raise NotFoundError(
            f"no shared volume {volume_id} of clusterous in {ec2.region}",
            "only volumes clusterous made (tagged clusterous:role=volume) can be removed here",
            "see 'clusterous ls-volumes'",
        )
    if volume.attached_to:
        raise InputError(
            f"volume {volume_id} is in use by {', '.join(volume.attached_to)} "
            f"(cluster {volume.cluster})",
            None,
            f"destroy the cluster first: 'clusterous destroy {volume.cluster} --delete-volume'",
        )
    ec2.delete_volume(volume_id)
    return volume
