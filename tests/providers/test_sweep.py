"""The sweep skeleton both providers share: phases in order, guarded removals, ledger, re-listing.

The phases here act on a dict standing in for a provider's resources: what
matters is what the skeleton does with their answers, not where they live.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from clusterous.errors import ClusterousError
from clusterous.providers.base import Leftover
from clusterous.providers.sweep import AllAtOnce, Phase, Sweep, merged, recorded_resources
from clusterous.records import ClusterState, NodeRecord, ResourceRecord


class Things:
    """Resources by id; those in ``stuck`` refuse to go."""

    def __init__(self, ids: Sequence[str], stuck: Sequence[str] = ()) -> None:
        self.ids = set(ids)
        self.stuck = set(stuck)
        self.order: list[str] = []

    def find(self, prefix: str) -> list[str]:
        return sorted(i for i in self.ids if i.startswith(prefix))

    def remove(self, ident: str) -> None:
        self.order.append(ident)
        if ident in self.stuck:
            raise ClusterousError(f"{ident} is in use", "something holds it")
        self.ids.discard(ident)  # already gone is removed too

    def relist(self) -> list[Leftover]:
        return [Leftover("thing", i) for i in sorted(self.ids)]


def phase(things: Things, kind: str, prefix: str, done: str = "") -> Phase:
    return Phase(kind, lambda: things.find(prefix), things.remove, done=done)


def state_with(*resources: ResourceRecord) -> ClusterState:
    state = ClusterState("c", "fake", "p")
    state.resources = list(resources)
    return state


def test_phases_run_in_order_and_what_is_left_comes_from_the_relisting() -> None:
    things = Things(["net-1", "vol-1", "vol-2"])
    said: list[str] = []
    result = Sweep(None, said.append).run(
        [phase(things, "volume", "vol"), phase(things, "network", "net", "removed the network")],
        things.relist,
    )
    assert things.order == ["vol-1", "vol-2", "net-1"]
    assert result.removed == ["volume vol-1", "volume vol-2", "network net-1"]
    assert result.leftovers == [] and said == ["removed the network"]


def test_a_failed_removal_is_a_leftover_with_its_reason_and_the_sweep_goes_on() -> None:
    things = Things(["vol-1", "vol-2", "net-1"], stuck=["vol-1"])
    said: list[str] = []
    result = Sweep(None, said.append).run(
        [phase(things, "volume", "vol"), phase(things, "network", "net")], lambda: []
    )
    assert things.order == ["vol-1", "vol-2", "net-1"]
    assert result.removed == ["volume vol-2", "network net-1"]
    assert [(x.kind, x.id) for x in result.leftovers] == [("volume", "vol-1")]
    assert "something holds it" in result.leftovers[0].why
    assert said == ["could not remove volume vol-1: vol-1 is in use"]


def test_done_is_said_only_when_all_of_a_phase_went() -> None:
    things = Things(["net-1", "net-2"], stuck=["net-2"])
    said: list[str] = []
    Sweep(None, said.append).run([phase(things, "network", "net", "removed the network")], list)
    assert "removed the network" not in said


def test_what_only_the_ledger_knows_is_removed_too_and_kept_resources_are_not() -> None:
    things = Things(["vol-1"])
    state = state_with(
        ResourceRecord("volume", "vol-1"),
        ResourceRecord("volume", "vol-untagged"),
        ResourceRecord("volume", "vol-yours", keep=True),
        ResourceRecord("network", "net-9"),
    )
    result = Sweep(state, lambda _: None).run([phase(things, "volume", "vol")], list)
    assert things.order == ["vol-1", "vol-untagged"]
    assert result.removed == ["volume vol-1", "volume vol-untagged"]


def test_machines_go_all_at_once_with_the_ledgers_nodes() -> None:
    asked: list[list[str]] = []

    def remove_all(ids: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        asked.append(list(ids))
        return [i for i in ids if i != "i-3"], {"i-3": "still terminating"}

    state = ClusterState("c", "fake", "p")
    state.nodes = [NodeRecord("controller", "controller", "t", "i-9")]
    machines = AllAtOnce(
        "instance",
        lambda: ["i-1", "i-3"],
        remove_all,
        recorded=lambda s: [n.instance_id for n in s.nodes],
    )
    result = Sweep(state, lambda _: None).run([machines], list)
    assert asked == [["i-1", "i-3", "i-9"]]
    assert result.removed == ["instance i-1", "instance i-9"]
    assert result.leftovers == [Leftover("instance", "i-3", "still terminating")]


def test_machines_that_cannot_be_removed_at_all_are_each_a_leftover() -> None:
    def refuse(ids: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        raise ClusterousError("the engine is gone")

    said: list[str] = []
    result = Sweep(None, said.append).run(
        [AllAtOnce("container", lambda: ["a", "b"], refuse)], list
    )
    assert [x.id for x in result.leftovers] == ["a", "b"] and result.removed == []
    assert said == ["could not remove the containers: the engine is gone"]


def test_merging_keeps_the_found_order_and_lists_each_id_once() -> None:
    state = state_with(ResourceRecord("subnet", "s-2"), ResourceRecord("subnet", "s-3"))
    assert merged(["s-1", "s-2", "s-1"], state, recorded_resources("subnet")) == [
        "s-1",
        "s-2",
        "s-3",
    ]
    assert merged(["s-1"], None, recorded_resources("subnet")) == ["s-1"]


def test_the_relisting_carries_the_reason_and_keeps_failures_no_listing_can_see() -> None:
    things = Things(["vol-1"], stuck=["vol-1", "vol-untagged"])
    state = state_with(ResourceRecord("volume", "vol-untagged"))
    result = Sweep(state, lambda _: None).run(
        [phase(things, "volume", "vol")], lambda: [Leftover("volume", "vol-1", "in-use")]
    )
    assert [(x.id, "something holds it" in x.why) for x in result.leftovers] == [
        ("vol-1", True),
        ("vol-untagged", True),
    ]


def refuse_to_list() -> list[str]:
    raise ClusterousError("not allowed to list the bucket", "AccessDenied", "ask for s3:ListBucket")


def test_a_listing_that_fails_is_a_leftover_with_what_to_do_when_the_phase_allows_it() -> None:
    things = Things(["net-1"])
    said: list[str] = []
    prefix = Leftover("prefix", "s3://b/p/", "delete it by hand")
    result = Sweep(None, said.append).run(
        [
            AllAtOnce("prefix", refuse_to_list, lambda ids: ([], {}), unlisted=prefix),
            phase(things, "network", "net"),
        ],
        things.relist,
    )
    assert result.removed == ["network net-1"]  # the phases after it still ran
    (left,) = result.leftovers
    assert (left.kind, left.id) == ("prefix", "s3://b/p/")
    assert "could not be listed: not allowed to list the bucket" in left.why
    assert "ask for s3:ListBucket" in left.why and left.why.endswith("delete it by hand")
    assert said == ["could not list prefix s3://b/p/: not allowed to list the bucket"]


def test_a_listing_that_fails_stops_the_sweep_when_later_phases_depend_on_it() -> None:
    things = Things(["net-1"])
    machines = AllAtOnce("machine", refuse_to_list, lambda ids: ([], {}))
    with pytest.raises(ClusterousError, match="not allowed to list the bucket"):
        Sweep(None, lambda _: None).run([machines, phase(things, "network", "net")], things.relist)
    assert things.order == []  # the network was not touched while machines may hold it
