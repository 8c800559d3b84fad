"""Helpers shared by the input-format tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clusterous.errors import FileInputError

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPAT_DIR = REPO_ROOT.parent / "shared" / "compat" / "clusterous-1.0"


def problems_of(load: Callable[[], object]) -> list[str]:
    """The rendered problems ``load()`` raised; fails the test if it raised none."""
    with pytest.raises(FileInputError) as raised:
        load()
    return [problem.render() for problem in raised.value.problems]
