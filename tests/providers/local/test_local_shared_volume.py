"""The local shared directory: a kept one survives a rollback; destroy asks when it holds files.

``sweep`` runs against the real Docker engine, where it only lists by the
cluster's (unique, unused) label: nothing is created there.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import pytest

from clusterous.home import Home
from clusterous.providers.local.provider import LocalProvider
from clusterous.records import ClusterState, ResourceRecord


class Recorded:
    def __init__(self, state: ClusterState) -> None:
        self.state = state

    def record_resource(self, resource: ResourceRecord) -> None:
        self.state.resources.append(resource)

    def record_node(self, node: object) -> None:
        raise AssertionError("no node is made here")


@pytest.fixture
def provider(tmp_path: Path, engine: docker.DockerClient) -> LocalProvider:
    return LocalProvider(f"vol-{uuid.uuid4().hex[:8]}", Home(tmp_path / "home"), client=engine)


def created(provider: LocalProvider) -> ClusterState:
    state = ClusterState(provider.cluster, "local", "local")
    provider.create_shared_volume(Recorded(state), None, None)
    return state


def test_a_volume_kept_by_an_earlier_destroy_survives_a_failed_creates_rollback(
    provider: LocalProvider,
) -> None:
    provider.shared_dir.mkdir(parents=True)
    (provider.shared_dir / "results.csv").write_text("1,2\n")

    state = created(provider)
    swept = provider.sweep(state, keep_volume=False, say=lambda _: None)

    assert state.resources[0].keep
    assert (provider.shared_dir / "results.csv").read_text() == "1,2\n"
    assert any(str(provider.shared_dir) in kept for kept in swept.kept)


def test_a_volume_made_by_the_create_goes_with_its_rollback(provider: LocalProvider) -> None:
    state = created(provider)
    (provider.shared_dir / "partial").write_text("x")

    provider.sweep(state, keep_volume=False, say=lambda _: None)

    assert not state.resources[0].keep
    assert not provider.shared_dir.exists()


def test_destroy_asks_about_a_shared_directory_only_when_it_holds_files(
    provider: LocalProvider,
) -> None:
    state = created(provider)
    assert provider.kept_volumes.question(state) is None

    (provider.shared_dir / "results.csv").write_text("1,2\n")
    assert provider.kept_volumes.question(state) == str(provider.shared_dir)


def test_destroy_does_not_ask_about_a_directory_that_is_never_deleted(
    provider: LocalProvider, tmp_path: Path
) -> None:
    provider.shared_dir.mkdir(parents=True)
    (provider.shared_dir / "old").write_text("x")
    assert provider.kept_volumes.question(created(provider)) is None

    brought = tmp_path / "mine"
    brought.mkdir()
    (brought / "data").write_text("x")
    other = LocalProvider(provider.cluster + "b", provider.home, client=provider.client)
    state = ClusterState(other.cluster, "local", "local")
    other.create_shared_volume(Recorded(state), None, str(brought))
    assert other.kept_volumes.question(state) is None


def test_without_a_terminal_destroy_keeps_a_local_volume_and_refuses_for_aws(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from clusterous.cli.destroy_cmd import ask_keep_volume
    from clusterous.errors import InputError
    from clusterous.operations.teardown import VolumeQuestion

    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert ask_keep_volume("c1", VolumeQuestion("/home/u/volumes/c1", free_to_keep=True))
    with pytest.raises(InputError, match="--delete-volume"):
        ask_keep_volume("c1", VolumeQuestion("vol-1 (8 GiB)", free_to_keep=False))
