"""The ledger's records: version 2 round-trips, version 1 is migrated, bad fields are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clusterous.records import (
    SCHEMA_VERSION,
    ClusterState,
    DamagedState,
    EnvironmentRecord,
    GroupMarket,
    NodeRecord,
    ResourceRecord,
    TunnelRecord,
)

WHERE = Path("/home/u/.clusterous/clusters/lab/state.json")

V1_STATE = {
    "schema_version": 1,
    "name": "lab",
    "provider": "aws",
    "profile": "default",
    "status": "ready",
    "created_at": 1700000000.5,
    "private_cidr": "10.0.0.0/16",
    "settings": {
        "groups": {"worker": {"spot": True, "spot_fallback": "none"}},
        "retired_numbers": {"worker": 3},
        "cluster_id": "c-1a2b",
        "environment": {
            "name": "busybox-web",
            "file": "/work/env.yml",
            "network": "clusterous-busybox-web",
            "components": ["master", "worker"],
            "started_at": 1700000100.0,
        },
        "tunnels": [
            {
                "local_port": 8080,
                "component": "master",
                "remote_host": "10.0.1.5",
                "remote_port": 80,
                "pid": 4242,
                "message": "open {url}",
            }
        ],
    },
    "nodes": [
        {
            "name": "controller",
            "group": "controller",
            "instance_type": "t3.small",
            "instance_id": "i-0",
            "ready": True,
        }
    ],
    "resources": [{"kind": "network", "id": "vpc-1", "name": "lab", "keep": False}],
}


def full_state() -> ClusterState:
    return ClusterState(
        "lab",
        "aws",
        "default",
        status="ready",
        created_at=1700000000.5,
        private_cidr="10.0.0.0/16",
        cluster_id="c-1a2b",
        groups={"worker": GroupMarket(spot=True, spot_fallback="none")},
        retired={"worker": 3},
        environment=EnvironmentRecord(
            "busybox-web", "/work/env.yml", "clusterous-busybox-web", ("master", "worker"), 1.5
        ),
        tunnels=[TunnelRecord(8080, "master", "10.0.1.5", 80, 4242, "open {url}")],
        nodes=[NodeRecord("controller", "controller", "t3.small", "i-0", ready=True)],
        resources=[ResourceRecord("network", "vpc-1", "lab")],
    )


def test_a_version_2_state_reads_back_equal_to_what_was_written() -> None:
    state = full_state()
    assert ClusterState.from_json(state.to_json(), WHERE) == state
    assert json.loads(state.to_json())["schema_version"] == SCHEMA_VERSION == 2


def test_a_version_1_state_is_migrated_into_typed_fields_on_read() -> None:
    state = ClusterState.from_json(json.dumps(V1_STATE), WHERE)
    assert state.schema_version == 2
    assert state.groups == {"worker": GroupMarket(spot=True, spot_fallback="none")}
    assert state.retired == {"worker": 3}
    assert state.cluster_id == "c-1a2b"
    assert state.environment == EnvironmentRecord(
        "busybox-web", "/work/env.yml", "clusterous-busybox-web", ("master", "worker"), 1700000100.0
    )
    assert state.tunnels == [TunnelRecord(8080, "master", "10.0.1.5", 80, 4242, "open {url}")]
    assert state.nodes[0].ready and state.resources[0].id == "vpc-1"
    written = json.loads(state.to_json())
    assert "settings" not in written and written["schema_version"] == 2


def test_a_version_1_state_without_settings_migrates_to_empty_fields() -> None:
    bare = {k: v for k, v in V1_STATE.items() if k != "settings"}
    state = ClusterState.from_json(json.dumps(bare), WHERE)
    assert (state.groups, state.retired, state.environment, state.tunnels) == ({}, {}, None, [])
    assert state.cluster_id == ""


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("groups", {"worker": {"spot": "yes"}}, "groups.worker.spot: expected bool, got 'yes'"),
        ("retired", {"worker": "3"}, "retired.worker: expected int, got '3'"),
        ("retired", {"worker": True}, "retired.worker: expected int, got True"),
        ("environment", {"name": "x"}, "environment: "),
        ("environment", [], "environment: expected a JSON object, got list"),
        ("tunnels", {}, "tunnels: expected a list"),
        ("tunnels", [{"local_port": "80"}], "tunnels[0].local_port: expected int, got '80'"),
        ("cluster_id", 7, "cluster_id: expected str, got 7"),
    ],
)
def test_a_wrongly_typed_field_is_named_in_the_damage_report(
    field: str, value: object, why: str
) -> None:
    raw = json.loads(full_state().to_json())
    raw[field] = value
    with pytest.raises(DamagedState) as caught:
        ClusterState.from_json(json.dumps(raw), WHERE)
    assert why in caught.value.render()


def test_node_groups_leave_the_controller_out() -> None:
    state = full_state()
    state.nodes.append(NodeRecord("worker-1", "worker", "t3.small", "i-1"))
    assert list(state.node_groups()) == ["worker"]
