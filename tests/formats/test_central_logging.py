"""Central logging in a cluster profile: on unless turned off, its bound, 1.0's levels."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from clusterous.formats import load_cluster_profile
from clusterous.records import ClusterState, LoggingSettings, state_from_dict
from tests.formats.conftest import WriteFile
from tests.formats.format_helpers import problems_of

GROUPS = "node_groups: {worker: {count: 1}}\n"


def profile(write: WriteFile, extra: str) -> Path:
    return write("profile.yml", "name: logs\n" + GROUPS + textwrap.dedent(extra))


def test_unset_means_on_with_1_gib(write: WriteFile) -> None:
    spec = load_cluster_profile(profile(write, ""))

    assert (spec.central_logging_level, spec.central_logging_max_size) == (1, 1.0)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_the_1_0_levels_are_kept_as_written(write: WriteFile, level: int) -> None:
    spec = load_cluster_profile(profile(write, f"central_logging_level: {level}\n"))

    assert spec.central_logging_level == level


def test_the_bound_is_in_gib(write: WriteFile) -> None:
    spec = load_cluster_profile(profile(write, "central_logging_max_size: 0.5\n"))

    assert spec.central_logging_max_size == 0.5


def test_a_bound_that_is_not_a_positive_number_is_named(write: WriteFile) -> None:
    path = profile(write, "central_logging_max_size: lots\n")

    (problem,) = problems_of(lambda: load_cluster_profile(path))
    assert "central_logging_max_size: expected a number > 0" in problem


def test_the_ledger_keeps_the_settings_and_reads_old_states_as_on() -> None:
    state = ClusterState("c", "local", "p", logging=LoggingSettings(0, 512))

    again = state_from_dict(json.loads(state.to_json()))
    raw = json.loads(state.to_json())
    del raw["logging"]

    assert again.logging == LoggingSettings(0, 512) and not again.logging.on
    assert state_from_dict(raw).logging == LoggingSettings(1, 1024)
