"""The ledger: written as things are made, atomic, readable after a crash."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from clusterous.config import Config, Profile, save_config
from clusterous.errors import InputError, NotFoundError
from clusterous.home import Home
from clusterous.manager.ledger import Ledger
from clusterous.operations.teardown import set_aside_if_damaged
from clusterous.records import ClusterState, DamagedState, NodeRecord, ResourceRecord


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(Home(tmp_path), "demo")
    ledger.create(ClusterState("demo", "local", "local"))
    return ledger


def test_each_record_is_on_disk_as_soon_as_it_is_made(ledger: Ledger) -> None:
    ledger.record_resource(ResourceRecord("network", "n1", "clusterous-demo"))
    on_disk = json.loads(ledger.path.read_text())
    assert on_disk["resources"] == [
        {"kind": "network", "id": "n1", "name": "clusterous-demo", "keep": False}
    ]
    assert on_disk["schema_version"] == 2
    assert ledger.path.stat().st_mode & 0o777 == 0o600


def test_recording_a_node_again_replaces_it(ledger: Ledger) -> None:
    ledger.record_node(NodeRecord("worker-1", "worker", "small", "abc"))
    ledger.record_node(NodeRecord("worker-1", "worker", "small", "abc", private_addr="10.0.0.5"))
    assert [n.private_addr for n in ledger.load().nodes] == ["10.0.0.5"]


def test_concurrent_writers_lose_no_record(ledger: Ledger) -> None:
    def add(i: int) -> None:
        ledger.record_node(NodeRecord(f"worker-{i}", "worker", "small", f"id{i}"))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ledger.load().nodes) == 20


def test_a_missing_cluster_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no cluster named 'ghost'") as error:
        Ledger(Home(tmp_path), "ghost").load()
    assert "workon" in error.value.render()


def test_a_state_from_an_unknown_schema_version_is_refused(ledger: Ledger) -> None:
    ledger.path.write_text(json.dumps({"schema_version": 99, "name": "demo"}))
    with pytest.raises(DamagedState, match="schema_version 99"):
        ledger.load()


def _whole(ledger: Ledger) -> str:
    ledger.record_node(NodeRecord("controller", "controller", "small", "c1", ssh_port=2201))
    return ledger.path.read_text()


@pytest.mark.parametrize(
    ("scenario", "damage", "why"),
    [
        (
            "truncated",
            lambda whole: whole[: len(whole) // 2].encode(),
            "not valid JSON (cut short?)",
        ),
        ("empty", lambda whole: b"", "the file is empty"),
        ("non_utf8", lambda whole: b"\xff\xfe" + whole.encode(), "not UTF-8 text (byte 0 is 0xff)"),
        ("schema_broken_top_level_list", lambda whole: b"[]", "expected a JSON object, got list"),
        (
            "schema_broken_node_field_type",
            lambda whole: whole.replace('"ssh_port": 2201', '"ssh_port": "x"').encode(),
            "nodes[0].ssh_port: expected int, got 'x'",
        ),
        (
            "schema_broken_missing_name",
            lambda whole: whole.replace('"name": "demo",', "").encode(),
            "name: missing",
        ),
        (
            "schema_broken_other_cluster",
            lambda whole: whole.replace('"name": "demo"', '"name": "other"').encode(),
            "it describes cluster 'other'",
        ),
    ],
)
def test_a_damaged_state_file_names_the_file_the_problem_and_the_fix(
    ledger: Ledger, scenario: str, damage: Callable[[str], bytes], why: str
) -> None:
    ledger.path.write_bytes(damage(_whole(ledger)))
    with pytest.raises(DamagedState) as caught:
        ledger.load()
    text = caught.value.render()
    assert f"the state file of cluster 'demo' is damaged ({ledger.path})" in text, scenario
    assert why in text, scenario
    assert "'clusterous workon demo'" in text
    assert "'clusterous destroy demo'" in text
    assert ledger.is_damaged() is not None


def test_a_readable_or_missing_state_is_not_damaged(ledger: Ledger, tmp_path: Path) -> None:
    assert ledger.is_damaged() is None
    assert Ledger(Home(tmp_path), "ghost").is_damaged() is None


def test_set_aside_moves_the_damaged_file_under_a_timestamped_name(ledger: Ledger) -> None:
    ledger.path.write_bytes(b"{")
    first = ledger.set_aside(clock=lambda: 1_800_000_000.0)
    ledger.path.write_bytes(b"")
    second = ledger.set_aside(clock=lambda: 1_800_000_000.0)
    assert first.name == "state.json.damaged-20270115T080000Z"
    assert second.name == "state.json.damaged-20270115T080000Z-2"
    assert first.read_bytes() == b"{"
    assert not ledger.exists()


def test_remove_keeps_set_aside_damaged_files(ledger: Ledger) -> None:
    ledger.path.write_bytes(b"{")
    aside = ledger.set_aside()
    (ledger.dir / "known_hosts").write_text("x")
    ledger.remove()
    assert sorted(p.name for p in ledger.dir.iterdir() if p.name != ".lock") == [aside.name]


def test_a_second_create_of_one_name_is_refused_and_leaves_the_first_intact(
    ledger: Ledger,
) -> None:
    ledger.record_resource(ResourceRecord("network", "n1"))
    before = ledger.path.read_text()
    with pytest.raises(InputError, match="a cluster named 'demo' already exists"):
        Ledger(Home(ledger.dir.parents[1]), "demo").create(ClusterState("demo", "local", "local"))
    assert ledger.path.read_text() == before
    assert [p.name for p in ledger.dir.iterdir() if p.name.endswith(".new")] == []


def test_of_many_concurrent_creates_of_one_name_exactly_one_wins(tmp_path: Path) -> None:
    outcomes: list[str] = []

    def create(profile: str) -> None:
        try:
            Ledger(Home(tmp_path), "race").create(ClusterState("race", "local", profile))
            outcomes.append(profile)
        except InputError:
            outcomes.append("refused")

    threads = [threading.Thread(target=create, args=(f"p{i}",)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o != "refused"]
    assert len(winners) == 1
    assert Ledger(Home(tmp_path), "race").load().profile == winners[0]


def test_remove_forgets_the_cluster_entirely(ledger: Ledger) -> None:
    (ledger.dir / "known_hosts").write_text("x")
    ledger.remove()
    assert not ledger.dir.exists()


@pytest.mark.parametrize(
    ("damaged", "override", "expected", "said"),
    [
        (b'{"name": "demo", "profile": "aws", "nod', None, "aws", "going on with profile 'aws'"),
        (
            b'{"name": "demo", "profile": "gone", "n',
            None,
            None,
            "names profile 'gone', unknown here",
        ),
        (b"", None, None, "names no profile"),
        (b'{"profile": "aws", "n', "other", "other", "set aside as"),
    ],
)
def test_setting_a_damaged_state_aside_keeps_the_profile_it_still_names(
    ledger: Ledger, damaged: bytes, override: str | None, expected: str | None, said: str
) -> None:
    """destroy and workon must look for the cluster where it was made, not where they stand."""
    home = Home(ledger.dir.parents[1])
    save_config(home, Config().with_profile(Profile("aws", "aws", region="eu-west-1")))
    ledger.path.write_bytes(damaged)
    warnings: list[str] = []
    assert set_aside_if_damaged(home, ledger, override, warnings.append) == expected
    assert "set aside as" in warnings[0]
    assert any(said in w for w in warnings)
    assert not ledger.exists()


def test_a_readable_state_is_left_in_place(ledger: Ledger) -> None:
    warnings: list[str] = []
    assert set_aside_if_damaged(Home(ledger.dir.parents[1]), ledger, None, warnings.append) is None
    assert ledger.exists() and warnings == []


def test_a_tunnel_replaces_the_record_of_its_port_and_forgetting_the_environment_drops_all(
    ledger: Ledger,
) -> None:
    from clusterous.records import EnvironmentRecord, TunnelRecord

    ledger.set_environment(EnvironmentRecord("web", "/e.yml", "net", ("master",)))
    ledger.record_tunnel(TunnelRecord(8080, "master", "10.0.0.5", 80, pid=1))
    ledger.record_tunnel(TunnelRecord(8081, "master", "10.0.0.5", 81, pid=2))
    ledger.record_tunnel(TunnelRecord(8080, "master", "10.0.0.6", 80, pid=3))
    assert [(t.local_port, t.pid) for t in ledger.load().tunnels] == [(8081, 2), (8080, 3)]
    ledger.set_environment(None)
    assert (ledger.load().environment, ledger.load().tunnels) == (None, [])


def test_a_retired_number_only_ever_grows(ledger: Ledger) -> None:
    node = NodeRecord("worker-4", "worker", "small", "w4")
    ledger.retire(node, 4)
    ledger.retire(node, 2)
    assert ledger.load().retired == {"worker": 4}
