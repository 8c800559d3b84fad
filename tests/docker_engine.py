"""What a test that needs the Docker engine does when there is none: fail in CI, else skip."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

BASE_IMAGE = os.environ.get("CLUSTEROUS_BASE_IMAGE", "debian:bookworm-slim")  # make base-image


def docker_unusable(reason: str, needs: str = "a Docker engine") -> NoReturn:
    """In CI (``CI=true``) the engine is part of the test setup: its absence fails the test."""
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"this test needs {needs}: {reason}\n"
            "  -> run `make docker base-image` (scripts/ensure-docker.sh, "
            "scripts/prepare-base-image.sh) as root before the tests",
            pytrace=False,
        )
    pytest.skip(f"without {needs}: {reason}")
