"""Which cluster made a labelled Docker object: the ownership id on every one of them.

Every container, network and volume of a local cluster carries
``clusterous.id=<id>``, the random id its create drew and kept in the
ledger. ``destroy`` compares the two, so a ledger never removes what another
create of the same name made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker

CLUSTER_LABEL = "clusterous.cluster"
ID_LABEL = "clusterous.id"


def id_labels(cluster_id: str) -> dict[str, str]:
    return {ID_LABEL: cluster_id} if cluster_id else {}


def owner_ids(client: docker.DockerClient, cluster: str) -> dict[str, list[str]]:
    """Each ownership id found on the cluster's objects ("" when none), with what carries it."""
    selector = {"label": f"{CLUSTER_LABEL}={cluster}"}
    found: dict[str, list[str]] = {}
    listings = [
        ("container", client.containers.list(all=True, filters=selector)),
        ("network", client.networks.list(filters=selector)),
        ("volume", client.volumes.list(filters=selector)),
    ]
    for kind, items in listings:
        for item in items:
            labels = (item.attrs.get("Labels") if kind != "container" else item.labels) or {}
            found.setdefault(labels.get(ID_LABEL, ""), []).append(f"{kind} {item.name}")
    return found
