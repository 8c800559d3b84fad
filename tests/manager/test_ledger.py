"""The ledger: written as things are made, atomic, readable after a crash."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from clusterous.errors import ClusterousError, NotFoundError
from clusterous.home import Home
from clusterous.manager.ledger import ClusterState, Ledger, NodeRecord, ResourceRecord


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
    assert on_disk["schema_version"] == 1
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


def test_a_corrupt_state_file_says_how_to_rebuild_it(ledger: Ledger) -> None:
    ledger.path.write_text("{not json")
    with pytest.raises(ClusterousError, match="cannot read the cluster state") as error:
        ledger.load()
    assert "clusterous workon" in error.value.render()


def test_a_state_from_an_unknown_schema_version_is_refused(ledger: Ledger) -> None:
    ledger.path.write_text(json.dumps({"schema_version": 99, "name": "demo"}))
    with pytest.raises(ClusterousError, match="schema_version 99"):
        ledger.load()


def test_remove_forgets_the_cluster_entirely(ledger: Ledger) -> None:
    (ledger.dir / "known_hosts").write_text("x")
    ledger.remove()
    assert not ledger.dir.exists()
