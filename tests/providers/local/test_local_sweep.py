"""The local sweep against the real Docker engine: it goes on past a refusal and reads the ledger.

Everything made here carries ``clusterous.test=<cluster>`` as well, and is
removed at the end whatever the sweep left. The only image used is the
Debian base the node image is built from, already on the engine.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from clusterous.home import Home
from clusterous.providers.local.provider import LocalProvider
from clusterous.records import ClusterState, ResourceRecord
from tests.docker_engine import BASE_IMAGE
from tests.e2e.helpers import TEST_LABEL, remove_labelled


@pytest.fixture
def cluster(engine: docker.DockerClient) -> Iterator[str]:
    name = f"swp-{uuid.uuid4().hex[:8]}"
    yield name
    remove_labelled(engine, name)
    for network in engine.networks.list(names=[f"clusterous-{name}"]):
        with contextlib.suppress(docker.errors.DockerException):
            network.remove()


def test_a_refused_removal_is_a_leftover_and_the_ledger_only_things_go_too(
    tmp_path: Path, engine: docker.DockerClient, cluster: str
) -> None:
    provider = LocalProvider(cluster, Home(tmp_path / "home"), BASE_IMAGE, client=engine)
    ours = {"clusterous.cluster": cluster, TEST_LABEL: cluster}
    network = engine.networks.create(f"clusterous-{cluster}", driver="bridge", labels=ours)
    # a volume whose label is lost: only the ledger knows it is the cluster's
    unlabelled = engine.volumes.create(
        f"clusterous-{cluster}-n1-docker", labels={TEST_LABEL: cluster}
    )
    # a container of someone else on the cluster's network: the engine refuses the network's removal
    engine.containers.run(
        BASE_IMAGE,
        ["sleep", "300"],
        detach=True,
        network=network.name,
        labels={TEST_LABEL: cluster},
    )
    provider.shared_dir.mkdir(parents=True)
    (provider.shared_dir / "results.csv").write_text("1,2\n")
    state = ClusterState(cluster, "local", "local")
    state.resources = [
        ResourceRecord("network", network.id, network.name),
        ResourceRecord("node-volume", unlabelled.name, unlabelled.name),
        ResourceRecord("shared-dir", str(provider.shared_dir), "shared volume"),
    ]
    said: list[str] = []

    result = provider.sweep(state, keep_volume=False, say=said.append)

    assert [(x.kind, x.id) for x in result.leftovers] == [("network", network.name)]
    assert "active endpoints" in result.leftovers[0].why
    assert any(line.startswith(f"could not remove network {network.name}") for line in said)
    assert f"volume {unlabelled.name}" in result.removed
    assert not engine.volumes.list(filters={"name": unlabelled.name})
    assert not provider.shared_dir.exists()  # the sweep went on past the network
