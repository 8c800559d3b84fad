"""Tests under tests/aws/ marked ``aws`` run against moto (the ``aws`` fixture, tests/conftest.py).

The fixture sets the AWS environment per test, resets moto before and after,
and guards every botocore session so nothing can reach a real endpoint.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _use_moto(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("aws") is not None:
        request.getfixturevalue("aws")
