"""Fixtures for the input-format tests: the Clusterous 1.0 files and file writing."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.formats.format_helpers import COMPAT_DIR


@pytest.fixture(scope="session")
def compat_dir() -> Path:
    """../shared/compat/clusterous-1.0 beside the repository: required in CI."""
    if not COMPAT_DIR.is_dir():
        message = f"the Clusterous 1.0 files are missing: {COMPAT_DIR}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return COMPAT_DIR


WriteFile = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> WriteFile:
    """Write a file under tmp_path (text, or bytes) and return its path."""

    def write_file(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    return write_file
