"""The end-to-end harness: a real Docker engine, labelled resources, node images.

Every test here is marked ``e2e``. Without a usable engine they skip, except in
CI (``CI=true``), where they fail with the way to get one. Each test gets a
unique ``clusterous.test`` label value; whatever it creates carries that label
and is removed at the end, pass or fail. Nothing else on the engine is touched:
other people's containers run beside these tests.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import pytest

from clusterous.errors import ClusterousError
from clusterous.providers.local.images import Variant, ensure_node_image
from tests.docker_engine import BASE_IMAGE, docker_unusable
from tests.e2e.helpers import remove_labelled

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def test_label(docker_client: docker.DockerClient) -> Iterator[str]:
    """A unique label value; everything carrying it is removed after the test."""
    value = uuid.uuid4().hex
    try:
        yield value
    finally:
        remove_labelled(docker_client, value)


def _node_image(client: docker.DockerClient, variant: Variant) -> str:
    try:
        return ensure_node_image(client, BASE_IMAGE, variant)
    except ClusterousError as error:
        if "is not in your Docker engine" in error.what:
            docker_unusable(error.render())
        raise


@pytest.fixture(scope="session")
def node_image(docker_client: docker.DockerClient) -> str:
    return _node_image(docker_client, "full")


@pytest.fixture(scope="session")
def bare_node_image(docker_client: docker.DockerClient) -> str:
    return _node_image(docker_client, "bare")
