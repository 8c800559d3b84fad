"""The end-to-end harness: a real Docker engine, labelled resources, node images.

Every test here is marked ``e2e``. Without a usable engine they skip, except in
CI (``CI=true``), where they fail with the way to get one. Each test gets a
unique ``clusterous.test`` label value; whatever it creates carries that label
and is removed at the end, pass or fail. Nothing else on the engine is touched:
other people's containers run beside these tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import docker
import docker.errors
import pytest

from clusterous.errors import ClusterousError
from clusterous.providers.local.images import Variant, ensure_node_image
from tests.e2e.helpers import remove_labelled

BASE_IMAGE = os.environ.get("CLUSTEROUS_BASE_IMAGE", "debian:bookworm-slim")
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


def _unusable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"the end-to-end tests need a Docker engine: {reason}\n"
            "  -> run `make docker base-image` (scripts/ensure-docker.sh, "
            "scripts/prepare-base-image.sh) before the tests",
            pytrace=False,
        )
    pytest.skip(f"no usable Docker engine: {reason}")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        _unusable(str(error))
    try:
        yield client
    finally:
        client.close()


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
            _unusable(error.render())
        raise


@pytest.fixture(scope="session")
def node_image(docker_client: docker.DockerClient) -> str:
    return _node_image(docker_client, "full")


@pytest.fixture(scope="session")
def bare_node_image(docker_client: docker.DockerClient) -> str:
    return _node_image(docker_client, "bare")
