"""atomic_write: durable across a power cut, and the directories it makes are private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from clusterous.home import atomic_write


def test_atomic_write_fsyncs_the_file_and_then_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def record(fd: int) -> None:
        synced.append("directory" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", record)
    atomic_write(tmp_path / "state.json", "{}")
    assert synced == ["file", "directory"]


def test_atomic_write_makes_every_missing_parent_0700_even_with_a_loose_umask(
    tmp_path: Path,
) -> None:
    previous = os.umask(0o022)
    try:
        atomic_write(tmp_path / "home" / "clusters" / "web" / "state.json", "{}")
    finally:
        os.umask(previous)
    for directory in ("home", "home/clusters", "home/clusters/web"):
        assert stat.S_IMODE((tmp_path / directory).stat().st_mode) == 0o700, directory
