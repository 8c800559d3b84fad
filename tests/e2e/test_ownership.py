"""Ownership on a real local cluster: a ledger destroys only what its own create made.

Two people share one Docker engine and one cluster name. Bob creates the
cluster; every container, network and volume of it carries the ownership id
in his ledger. Alice still has a ledger of that name from an earlier create
(another id): her destroy refuses, names what it found, and leaves Bob's
cluster whole. Carol has no ledger at all: her destroy asks first, then
sweeps by label. Everything is removed by label at the end, pass or fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import pytest

from clusterous.home import Home
from clusterous.manager.ledger import Ledger
from clusterous.records import ClusterState
from tests.e2e.cluster_helpers import (
    CLUSTER_LABEL,
    CliOnHome,
    labelled,
    remove_cluster_resources,
    unique_cluster_name,
)

ID_LABEL = "clusterous.id"
ALICES_ID = "a1" * 8


@dataclass
class Shared:
    name: str
    bob: CliOnHome
    alice: CliOnHome
    carol: CliOnHome

    def bobs_id(self) -> str:
        state = self.bob.home / "clusters" / self.name / "state.json"
        return str(json.loads(state.read_text())["cluster_id"])


@pytest.fixture(scope="module")
def shared(
    docker_client: docker.DockerClient, node_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    homes = [tmp_path_factory.mktemp(person) for person in ("bob", "alice", "carol")]
    live = Shared(unique_cluster_name("own"), *(CliOnHome(home) for home in homes))
    try:
        yield live
    finally:
        remove_cluster_resources(docker_client, live.name)


def ids_on_the_engine(client: docker.DockerClient, name: str) -> dict[str, set[str]]:
    selector = {"label": f"{CLUSTER_LABEL}={name}"}
    found: dict[str, set[str]] = {}
    for container in client.containers.list(all=True, filters=selector):
        found.setdefault(container.labels.get(ID_LABEL, ""), set()).add(container.name)
    for item in [*client.networks.list(filters=selector), *client.volumes.list(filters=selector)]:
        found.setdefault((item.attrs.get("Labels") or {}).get(ID_LABEL, ""), set()).add(item.name)
    return found


def test_create_labels_everything_with_the_random_id_kept_in_the_ledger(
    shared: Shared, docker_client: docker.DockerClient
) -> None:
    shared.bob.ok("create", "--name", shared.name, "--workers", "0")
    bobs_id = shared.bobs_id()
    assert len(bobs_id) == 16 and int(bobs_id, 16) >= 0

    found = ids_on_the_engine(docker_client, shared.name)

    assert list(found) == [bobs_id], found
    assert f"clusterous-{shared.name}" in found[bobs_id]  # the network
    assert f"clusterous-{shared.name}-controller" in found[bobs_id]


def test_destroy_with_a_ledger_of_another_id_refuses_and_names_what_it_found(
    shared: Shared, docker_client: docker.DockerClient
) -> None:
    alices = Ledger(Home(shared.alice.home), shared.name)
    alices.create(ClusterState(shared.name, "local", "local", status="ready", cluster_id=ALICES_ID))
    before = labelled(docker_client, shared.name)

    refused = shared.alice("destroy", shared.name, "--yes", "--keep-volume")

    assert refused.returncode == 1, refused.output
    assert "Traceback" not in refused.output
    assert f"ledger has id {ALICES_ID}" in refused.stderr
    assert f"container clusterous-{shared.name}-controller" in refused.stderr
    assert f"(id {shared.bobs_id()})" in refused.stderr
    assert "--force" in refused.stderr
    assert labelled(docker_client, shared.name) == before
    assert alices.exists()
    shared.bob.ok("status", shared.name)


def test_destroy_without_any_ledger_asks_then_sweeps_by_label(
    shared: Shared, docker_client: docker.DockerClient
) -> None:
    assert not (shared.carol.home / "clusters" / shared.name).exists()

    unconfirmed = shared.carol("destroy", shared.name, "--keep-volume")
    assert unconfirmed.returncode == 2, unconfirmed.output
    assert "needs confirmation" in unconfirmed.stderr
    assert labelled(docker_client, shared.name)

    shared.carol.ok("destroy", shared.name, "--yes", "--keep-volume")
    assert labelled(docker_client, shared.name) == []
