"""Ownership: a ledger only destroys what its own create made (the id in both)."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterous.home import Home
from clusterous.manager.ledger import Ledger
from clusterous.operations.teardown import NotYours, check_ownership
from clusterous.records import ClusterState


class FoundOnTheEngine:
    """What a provider finds labelled with the cluster's name, by ownership id."""

    name = "local"

    def __init__(self, found: dict[str, list[str]]) -> None:
        self.found = found
        self.cluster_id = ""

    def owner_ids(self) -> dict[str, list[str]]:
        return self.found


def ledger_with_id(tmp_path: Path, cluster_id: str) -> Ledger:
    ledger = Ledger(Home(tmp_path / "home"), "shared")
    ledger.create(ClusterState("shared", "local", "local", cluster_id=cluster_id))
    return ledger


def test_a_cluster_made_by_another_create_of_the_same_name_is_refused_and_named(
    tmp_path: Path,
) -> None:
    ledger = ledger_with_id(tmp_path, "aaaa")
    theirs = FoundOnTheEngine({"bbbb": ["container clusterous-shared-controller"]})

    with pytest.raises(NotYours) as refused:
        check_ownership("shared", ledger, theirs, force=False, warn=print)

    message = refused.value.render()
    assert refused.value.exit_code == 1
    assert "container clusterous-shared-controller (id bbbb)" in message
    assert "ledger has id aaaa" in message and "--force" in message


def test_things_without_an_id_next_to_ours_are_refused_too(tmp_path: Path) -> None:
    ledger = ledger_with_id(tmp_path, "aaaa")
    mixed = FoundOnTheEngine({"aaaa": ["network clusterous-shared"], "": ["volume stray"]})

    with pytest.raises(NotYours, match=r"volume stray \(no id\)"):
        check_ownership("shared", ledger, mixed, force=False, warn=print)


def test_force_destroys_what_another_create_made_and_says_so(tmp_path: Path) -> None:
    ledger = ledger_with_id(tmp_path, "aaaa")
    said: list[str] = []
    theirs = FoundOnTheEngine({"bbbb": ["container clusterous-shared-controller"]})

    check_ownership("shared", ledger, theirs, force=True, warn=said.append)

    assert said and "--force" in said[0] and "id bbbb" in said[0]


def test_our_own_things_and_ledgers_from_before_ids_pass(tmp_path: Path) -> None:
    ours = FoundOnTheEngine({"aaaa": ["network clusterous-shared"]})
    check_ownership("shared", ledger_with_id(tmp_path / "a", "aaaa"), ours, False, print)
    anything = FoundOnTheEngine({"bbbb": ["network clusterous-shared"]})
    check_ownership("shared", ledger_with_id(tmp_path / "b", ""), anything, False, print)
