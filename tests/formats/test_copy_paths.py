"""``copy:`` sends only what lies inside the environment file's own directory.

An environment file from someone else must not be able to send the laptop's
secrets (``~/.ssh``, ``~/.aws``, ``/etc``) to the cluster, where every
component can read /data. ``validate`` (and so ``run``) refuses such entries.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from clusterous.cli.main import cli
from clusterous.formats import load_environment
from tests.formats.conftest import WriteFile
from tests.formats.format_helpers import problems_of


def env_with_copy(write: WriteFile, *entries: str) -> Path:
    listed = "".join(f"    - {entry!r}\n" for entry in entries)
    return write("app/env.yml", f"name: t\nenvironment:\n  copy:\n{listed}")


def test_copy_of_an_absolute_path_is_refused_at_its_line(write: WriteFile) -> None:
    path = env_with_copy(write, "scripts/", "/etc")
    [problem] = problems_of(lambda: load_environment(path))
    assert problem.startswith(f'{path}:5: environment.copy[1]: "/etc" is an absolute path')
    assert "inside the environment file's directory" in problem


def test_copy_of_a_home_directory_path_is_refused(write: WriteFile) -> None:
    path = env_with_copy(write, "~/.ssh")
    [problem] = problems_of(lambda: load_environment(path))
    assert problem.startswith(f'{path}:4: environment.copy[0]: "~/.ssh" names a home directory')


@pytest.mark.parametrize("entry", ["..", "../secrets", "scripts/../../x", "./../x"])
def test_copy_with_dotdot_that_escapes_the_directory_is_refused(
    write: WriteFile, entry: str
) -> None:
    path = env_with_copy(write, entry)
    [problem] = problems_of(lambda: load_environment(path))
    assert f"{path}:4: environment.copy[0]:" in problem and 'through ".."' in problem


def test_copy_with_dotdot_that_stays_inside_is_allowed(write: WriteFile, tmp_path: Path) -> None:
    path = env_with_copy(write, "scripts/../data", ".")
    environment = load_environment(path)
    assert environment.copy_dirs == [tmp_path / "app" / "data", tmp_path / "app"]


def test_copy_of_a_directory_that_is_a_symlink_out_of_the_directory_is_refused(
    write: WriteFile, tmp_path: Path
) -> None:
    (tmp_path / "private").mkdir()
    path = env_with_copy(write, "scripts")
    (path.parent / "scripts").symlink_to(tmp_path / "private")
    [problem] = problems_of(lambda: load_environment(path))
    assert f"{path}:4: environment.copy[0]:" in problem and "symbolic link" in problem


def test_validate_of_a_file_copying_the_home_directory_exits_2_naming_file_and_line(
    write: WriteFile,
) -> None:
    path = env_with_copy(write, "~")
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert f'{path}:4: environment.copy[0]: "~" names a home directory' in result.stderr
    assert "Traceback" not in result.output + result.stderr
