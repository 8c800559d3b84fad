"""The local provider's tests that need the real engine and the base image."""

from __future__ import annotations

import docker
import pytest

from tests.docker_engine import BASE_IMAGE, docker_unusable


@pytest.fixture(scope="module")
def engine(docker_client: docker.DockerClient) -> docker.DockerClient:
    """The engine, with the base image in it (``make base-image``)."""
    try:
        docker_client.images.get(BASE_IMAGE)
    except docker.errors.DockerException as problem:
        docker_unusable(f"the base image {BASE_IMAGE} is not in it: {problem}")
    return docker_client
