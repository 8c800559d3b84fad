"""``docker_network: host`` is refused at run on the local provider, kept on AWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterous.operations.environments import load, refuse_host_network
from clusterous.errors import FileInputError

ENV = """\
name: hosted
environment:
  components:
    web:
      machine: master
      image: nginx
    probe:
      machine: worker
      image: busybox
      docker_network: host
"""


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / "env.yml"
    path.write_text(ENV)
    return path


def test_host_network_on_the_local_provider_is_refused_at_its_file_and_line(
    env_file: Path,
) -> None:
    with pytest.raises(FileInputError) as refused:
        refuse_host_network(load(env_file), env_file, "local")
    message = refused.value.render()
    assert f"{env_file}:10" in message
    assert "probe" in message
    assert "reach your Docker engine" in message
    assert "'ports:'" in message
    assert refused.value.exit_code == 2


def test_host_network_on_aws_is_accepted_as_in_clusterous_1(env_file: Path) -> None:
    refuse_host_network(load(env_file), env_file, "aws")


def test_an_environment_without_host_network_runs_on_the_local_provider(
    tmp_path: Path,
) -> None:
    path = tmp_path / "env.yml"
    path.write_text(ENV.replace("      docker_network: host\n", ""))
    refuse_host_network(load(path), path, "local")
