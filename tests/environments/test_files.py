"""Files move between the laptop and /data without ever leaving the trees named.

Remote paths stay inside the shared volume /data, by spelling and by symlink;
links inside a copied tree are sent as links or skipped, never followed; a
hostile cluster cannot make ``get`` write outside its target.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from tests.environments.sftp_double import LocalSftp

from clusterous.environments.files import SharedVolume, confine, confine_real
from clusterous.errors import InputError


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "/data"),
        ("", "/data"),
        ("results", "/data/results"),
        ("results/../logs/", "/data/logs"),
        ("/data/a/b", "/data/a/b"),
        ("/home/data/launch_scripts", "/data/launch_scripts"),
        ("./x", "/data/x"),
    ],
)
def test_paths_are_taken_relative_to_the_volume(given: str | None, expected: str) -> None:
    assert confine(given) == expected


@pytest.mark.parametrize(
    "given",
    ["..", "../etc/passwd", "a/../../etc", "/etc/passwd", "/", "/data/../root", "/database"],
)
def test_paths_that_leave_the_volume_are_refused(given: str) -> None:
    with pytest.raises(InputError, match="outside the shared volume") as raised:
        confine(given)
    assert raised.value.exit_code == 2


def realpaths(table: dict[str, str]) -> Callable[[str], str | None]:
    return lambda path: table.get(path)


def test_a_symlink_out_of_the_volume_is_refused() -> None:
    lookup = realpaths({"/data": "/data", "/data/escape": "/etc"})
    with pytest.raises(InputError, match="outside"):
        confine_real("escape/passwd", lookup)


def test_a_new_path_is_judged_by_its_deepest_existing_ancestor() -> None:
    lookup = realpaths({"/data": "/data", "/data/results": "/data/results"})
    assert confine_real("results/new/file", lookup) == "/data/results/new/file"


def test_a_symlink_that_stays_inside_the_volume_is_allowed() -> None:
    lookup = realpaths({"/data": "/data", "/data/latest": "/data/run-3"})
    assert confine_real("latest/out.csv", lookup) == "/data/latest/out.csv"


def test_a_dangling_symlink_is_refused() -> None:
    lookup = realpaths({"/data": "/data", "/data/dangling": ""})
    with pytest.raises(InputError):
        confine_real("dangling", lookup)


# -- trees with links, and a hostile cluster ------------------------------------------
#
# The controller's /data is played by a local directory (sftp_double); whatever
# lies outside ``storage`` stands for the rest of the laptop or the controller.


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    (tmp_path / "storage").mkdir()
    return tmp_path / "storage"


@pytest.fixture
def sftp(storage: Path) -> LocalSftp:
    return LocalSftp(storage)


@pytest.fixture
def volume(sftp: LocalSftp) -> SharedVolume:
    return SharedVolume(cast(Any, sftp))


@pytest.fixture
def secrets(tmp_path: Path) -> Path:
    """Something outside every tree that must never travel: a stand-in for ~/.ssh."""
    directory = tmp_path / "dot-ssh"
    directory.mkdir()
    (directory / "id_ed25519").write_text("PRIVATE KEY")
    return directory


def app_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "app" / "scripts"
    (tree / "lib").mkdir(parents=True)
    (tree / "run.sh").write_text("echo run")
    (tree / "lib" / "util.py").write_text("x = 1")
    return tree


def files_under(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): p.read_text()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_put_sends_a_symlink_that_points_inside_the_tree_as_a_link(
    tmp_path: Path, volume: SharedVolume, storage: Path
) -> None:
    tree = app_tree(tmp_path)
    (tree / "latest.py").symlink_to("lib/util.py")
    (tree / "lib" / "top").symlink_to(tree)  # absolute, but inside: re-made relative
    done = volume.put(tree, None, lambda p: None)
    assert os.readlink(storage / "scripts" / "latest.py") == "lib/util.py"
    assert os.readlink(storage / "scripts" / "lib" / "top") == ".."
    assert done.skipped == []


def test_put_skips_a_symlink_out_of_the_tree_with_a_warning_and_sends_nothing_of_it(
    tmp_path: Path, volume: SharedVolume, storage: Path, secrets: Path
) -> None:
    tree = app_tree(tmp_path)
    (tree / "keys").symlink_to(secrets)
    (tree / "key").symlink_to(secrets / "id_ed25519")
    (tree / "up").symlink_to("../..")
    done = volume.put(tree, None, lambda p: None)
    assert files_under(storage) == {"scripts/lib/util.py": "x = 1", "scripts/run.sh": "echo run"}
    assert sorted(os.listdir(storage / "scripts")) == ["lib", "run.sh"]
    assert len(done.skipped) == 3
    assert all("outside" in warning for warning in done.skipped)
    assert any(str(tree / "keys") in warning for warning in done.skipped)


def test_put_of_a_tree_holding_a_link_to_its_own_directory_sends_the_link_without_recursing(
    tmp_path: Path, volume: SharedVolume, storage: Path
) -> None:
    tree = app_tree(tmp_path)
    (tree / "lib" / "again").symlink_to("..")
    done = volume.put(tree, None, lambda p: None)
    assert os.readlink(storage / "scripts" / "lib" / "again") == ".."
    assert done.sent == 3


def test_put_of_a_tree_holding_a_symlink_loop_fails_with_a_clear_error(
    tmp_path: Path, volume: SharedVolume
) -> None:
    tree = app_tree(tmp_path)
    (tree / "a").symlink_to("b")
    (tree / "b").symlink_to("a")
    with pytest.raises(InputError, match="loop of symbolic links") as raised:
        volume.put(tree, None, lambda p: None)
    assert raised.value.exit_code == 2
    assert str(tree / "a") in raised.value.render()


def results_on_the_cluster(storage: Path) -> Path:
    results = storage / "results" / "run1"
    results.mkdir(parents=True)
    (results / "out.csv").write_text("1,2")
    return results


@pytest.mark.parametrize("name", ["../../stolen", "../stolen", "..", "a/../../b", "/data/evil"])
def test_get_refuses_an_entry_name_from_the_cluster_that_leaves_the_target(
    tmp_path: Path, volume: SharedVolume, sftp: LocalSftp, storage: Path, name: str
) -> None:
    results_on_the_cluster(storage)
    sftp.planted[("/data/results/run1", name)] = b"planted"
    target = tmp_path / "laptop" / "target"
    target.mkdir(parents=True)
    done = volume.get("results/run1", target, lambda p: None)
    assert files_under(tmp_path / "laptop") == {"target/run1/out.csv": "1,2"}
    assert b"planted" not in b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    [warning] = done.skipped
    assert f"named {name!r}" in warning and "outside" in warning


def test_get_skips_a_symlink_on_the_cluster_that_points_out_of_the_tree(
    tmp_path: Path, volume: SharedVolume, storage: Path, secrets: Path
) -> None:
    results = results_on_the_cluster(storage)
    (results / "keys").symlink_to(secrets)  # out of /data: the controller's own files
    (results / "other").symlink_to(storage)  # inside /data, but out of what was asked
    target = tmp_path / "laptop"
    done = volume.get("results/run1", target, lambda p: None)
    assert files_under(target) == {"out.csv": "1,2"}
    assert sorted(os.listdir(target)) == ["out.csv"]
    assert len(done.skipped) == 2 and all("outside" in w for w in done.skipped)


def test_get_recreates_a_symlink_on_the_cluster_that_points_inside_the_tree(
    tmp_path: Path, volume: SharedVolume, storage: Path
) -> None:
    results = results_on_the_cluster(storage)
    (results / "sub").mkdir()
    (results / "latest.csv").symlink_to("out.csv")
    (results / "sub" / "parent").symlink_to(results)  # absolute: /data/results/run1
    target = tmp_path / "laptop"
    done = volume.get("results/run1", target, lambda p: None)
    assert os.readlink(target / "latest.csv") == "out.csv"
    assert os.readlink(target / "sub" / "parent") == ".."
    assert (target / "latest.csv").read_text() == "1,2" and done.skipped == []


def test_get_of_a_tree_with_symlink_loops_on_the_cluster_ends_with_a_clear_message(
    tmp_path: Path, volume: SharedVolume, storage: Path
) -> None:
    results = results_on_the_cluster(storage)
    (results / "again").symlink_to(".")
    (results / "a").symlink_to("b")
    (results / "b").symlink_to("a")
    target = tmp_path / "laptop"
    done = volume.get("results/run1", target, lambda p: None)
    assert os.readlink(target / "again") == "."
    assert sorted(os.listdir(target)) == ["again", "out.csv"]
    assert len(done.skipped) == 2 and all("loop" in w for w in done.skipped)
