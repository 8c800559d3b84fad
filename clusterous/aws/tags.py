"""The tags every AWS resource of clusterous carries, and the filters that find them again.

Tags are set at creation (TagSpecifications), never afterwards, so a resource
never exists untagged: a sweep by tag finds everything even when the local
ledger is gone (DESIGN section 5).
"""

from __future__ import annotations

from typing import Any

CLUSTER_TAG = "clusterous:cluster"
ROLE_TAG = "clusterous:role"
GROUP_TAG = "clusterous:group"
FIRST_INDEX_TAG = "clusterous:first-index"
NODE_NAMES_TAG = "clusterous:nodes"
KEEP_TAG = "clusterous:keep"
HOST_KEY_TAG = "clusterous:host-key"  # the group's SSH host public key, pinned by 'workon'
SPOT_TAG = "clusterous:spot"  # the market the group asked for: true | false
SPOT_FALLBACK_TAG = "clusterous:spot-fallback"  # on-demand | none
LEASE_SECONDS_TAG = "clusterous:lease-seconds"  # each renewal's length; 0: no lease
IDLE_MINUTES_TAG = "clusterous:idle-minutes"  # idle stop after that long; 0: none
CLUSTER_ID_TAG = "clusterous:id"
TAG_VALUE_LIMIT = 256


def cluster_tags(
    cluster: str, role: str, name: str, cluster_id: str = "", **extra: str
) -> dict[str, str]:
    """The tags of one resource; ``cluster_id`` is the ownership id the create drew."""
    owner = {CLUSTER_ID_TAG: cluster_id} if cluster_id else {}
    return {CLUSTER_TAG: cluster, ROLE_TAG: role, "Name": name, **owner, **extra}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """The Key/Value list every AWS API takes tags as: the one builder."""
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def tag_spec(resource_type: str, tags: dict[str, str]) -> list[dict[str, Any]]:
    """The TagSpecifications argument that tags a resource as it is created."""
    return [{"ResourceType": resource_type, "Tags": tag_list(tags)}]


def tags_of(resource: dict[str, Any], key: str = "Tags") -> dict[str, str]:
    """The tags of an AWS answer (under ``Tags``, or ``TagSet`` for S3) as a dict."""
    return {str(t["Key"]): str(t["Value"]) for t in resource.get(key, []) or []}


def cluster_filter(cluster: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{CLUSTER_TAG}", "Values": [cluster]}]


def any_cluster_filter() -> list[dict[str, Any]]:
    return [{"Name": "tag-key", "Values": [CLUSTER_TAG]}]
