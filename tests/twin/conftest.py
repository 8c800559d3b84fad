"""The EC2 twin for the tests under tests/twin/: one twin for the session, in-process.

Every test here that uses the twin is marked ``e2e`` (it needs a real Docker engine, loop devices
and the node image); without them it skips, except in CI (``CI=true``), where
it fails with the way to get them. The twin (``twin.core.Twin``: its own moto
as a child process, the front endpoint, IMDS, the materialiser) starts once
and is stopped at the end, pass or fail; it removes every container, network,
loop device and file it made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.docker_engine import BASE_IMAGE, docker_unusable
from twin.core import Twin

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests on a running twin are e2e; the twin's own pure logic is unit-tested."""
    for item in items:
        uses_twin = "ec2_twin" in getattr(item, "fixturenames", ())
        if HERE in Path(str(item.fspath)).parents and uses_twin:
            item.add_marker(pytest.mark.e2e)


def unusable(reason: str) -> NoReturn:
    docker_unusable(reason, "a Docker engine, loop devices and root (the EC2 twin)")


def check_machine() -> None:
    import docker
    import docker.errors

    try:
        client = docker.from_env()
        client.ping()
        client.images.get(BASE_IMAGE)
        client.close()
    except docker.errors.DockerException as error:
        unusable(str(error).splitlines()[0])
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        unusable("loop devices need root and losetup (util-linux)")
    probe = subprocess.run(["losetup", "-f"], capture_output=True, text=True)
    if probe.returncode != 0:
        unusable(f"no free loop device: {probe.stderr.strip()}")


@pytest.fixture(scope="session")
def ec2_twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twin]:
    check_machine()
    twin = Twin(tmp_path_factory.mktemp("twin"), base_image=BASE_IMAGE)
    with twin:
        yield twin
