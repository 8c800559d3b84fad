"""Remote paths stay inside the shared volume /data, by spelling and by symlink."""

from __future__ import annotations

import pytest

from clusterous.environments.files import confine, confine_real
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


def realpaths(table: dict[str, str]):  # type: ignore[no-untyped-def]
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
