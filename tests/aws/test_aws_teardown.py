"""Destroying and scaling clusters on EC2 (moto): zero tagged resources left, every time."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from clusterous import cancel
from clusterous.errors import ExitCode, Interrupted
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.destroy import destroy_cluster
from clusterous.manager.ledger import Ledger
from clusterous.manager.report import SilentReporter
from clusterous.manager.scale import ScaleContext, add_nodes, rm_nodes
from clusterous.providers.base import SweepResult
from clusterous.records import ClusterState
from tests.aws.faults import Faults
from tests.aws.provider_fixtures import (
    CLUSTER,
    Account,
    account,
    boto,
    cluster_instances,
    fault_server,
    faulty_aws,
    make_provider,
    tagged_resources,
    tags,
)
from tests.aws.test_aws_create import create
from tests.fakes import FakeReadiness

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws"]


def destroy(home: Path, account: Account, keep_volume: bool = False) -> SweepResult:
    provider = make_provider(home, account.profile)
    ledger = Ledger(Home(home), CLUSTER)
    return destroy_cluster(CLUSTER, provider, ledger, keep_volume, SilentReporter())


@pytest.fixture
def created(account: Account, clusterous_home: Path) -> ClusterState:
    state = create(clusterous_home, make_provider(clusterous_home, account.profile))
    assert tagged_resources() != []
    return state


def test_destroy_leaves_zero_tagged_resources(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    result = destroy(clusterous_home, account)
    assert result.leftovers == []
    assert tagged_resources() == []
    assert not Ledger(Home(clusterous_home), CLUSTER).dir.exists()
    removed = " ".join(result.removed)
    for kind in ("instance", "volume", "security-group", "subnet", "vpc", "iam-role"):
        assert kind in removed


def test_destroy_twice_is_success_the_second_time_with_nothing_to_do(
    created: ClusterState, account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    destroy(clusterous_home, account)
    faulty_aws.clear()
    second = destroy(clusterous_home, account)
    assert second.leftovers == [] and second.removed == []
    assert faulty_aws.calls("TerminateInstances") == []
    assert tagged_resources() == []


def test_destroy_works_from_the_tags_alone_when_the_local_state_is_lost(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    shutil.rmtree(Home(clusterous_home).cluster_dir(CLUSTER))
    result = destroy(clusterous_home, account)
    assert result.leftovers == []
    assert tagged_resources() == []


def test_a_kept_volume_survives_marked_kept_and_is_no_leftover(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    result = destroy(clusterous_home, account, keep_volume=True)
    volume = next(r.id for r in created.resources if r.kind == "volume")
    assert result.leftovers == []
    assert any(volume in kept and "rm-volume" in kept for kept in result.kept)
    found = boto("ec2").describe_volumes(VolumeIds=[volume])["Volumes"][0]
    assert tags(found)["clusterous:keep"] == "true" and found["State"] == "available"
    assert tagged_resources() == [f"volume {volume}"]


def test_add_nodes_launches_the_group_with_the_current_join_token(
    created: ClusterState, account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    faulty_aws.clear()
    ctx = scale_context(clusterous_home, account)
    new = add_nodes(ctx, "worker", 2, None)
    assert [n.name for n in new] == ["worker-4", "worker-5"]
    launches = list(faulty_aws.forms("RunInstances"))
    assert [(f["MinCount"], f["MaxCount"]) for f in launches] == [(["2"], ["2"])]
    state = ctx.ledger.load()
    assert {n.name for n in state.nodes if n.ready} >= {"worker-4", "worker-5"}
    assert len(cluster_instances()) == 7
    assert isinstance(ctx.readiness, FakeReadiness)
    assert ctx.readiness.log[-2:] == ["join_token", "wait_ready ['worker-4', 'worker-5']"]


def test_rm_nodes_drains_then_terminates_the_highest_numbered_nodes(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    ctx = scale_context(clusterous_home, account)
    gone = rm_nodes(ctx, "worker", 2)
    assert sorted(n.name for n in gone) == ["worker-2", "worker-3"]
    assert isinstance(ctx.readiness, FakeReadiness)
    assert ctx.readiness.log[-2:] == [
        "drain ['worker-2', 'worker-3']",
        "forget ['worker-2', 'worker-3']",
    ]
    alive = {i["InstanceId"] for i in cluster_instances()}
    assert {n.instance_id for n in gone}.isdisjoint(alive)
    assert len(alive) == 3
    names = {n.name for n in ctx.ledger.load().nodes}
    assert names == {"controller", "master-1", "worker-1"}
    pinned = ctx.access.known_hosts.entries()
    assert ctx.access.alias("worker-3") not in pinned


def test_a_failed_add_nodes_removes_only_the_new_nodes(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    ctx = scale_context(clusterous_home, account, fail_wait=True)
    with pytest.raises(Exception, match="add-nodes failed"):
        add_nodes(ctx, "worker", 2, None)
    assert len(cluster_instances()) == 5
    assert {n.name for n in ctx.ledger.load().nodes} == {n.name for n in created.nodes}


def test_ctrl_c_while_new_nodes_join_removes_them_with_waits_the_cancel_does_not_cut(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    # Every provider wait of the removal checks its cancel event: the add-nodes' is set.
    ctx = scale_context(clusterous_home, account, interrupt_wait=True, sleep=cancel_check)
    with cancel.fresh() as event, pytest.raises(Interrupted) as error:
        add_nodes(ctx, "worker", 2, None)
    assert event.is_set()
    assert error.value.exit_code == ExitCode.INTERRUPTED
    assert "the nodes that were being added were removed" in error.value.render()
    assert len(cluster_instances()) == 5
    assert {n.name for n in ctx.ledger.load().nodes} == {n.name for n in created.nodes}


class CtrlCOnTermination(SilentReporter):
    """The user's second Ctrl-C, pressed as the removal reports its first terminated node."""

    def done(self, text: str) -> None:
        if text.startswith("terminated node"):
            raise KeyboardInterrupt


def test_a_second_ctrl_c_stops_removing_new_nodes_and_names_the_rm_nodes_that_finishes(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    ctx = scale_context(clusterous_home, account, interrupt_wait=True)
    ctx = replace(ctx, reporter=CtrlCOnTermination())
    with cancel.fresh(), pytest.raises(Interrupted) as error:
        add_nodes(ctx, "worker", 2, None)
    message = error.value.render()
    assert "removing the new nodes of cluster" in message
    assert "not yet removed: worker-4, worker-5" in message
    assert f"'clusterous rm-nodes 2 worker --cluster {CLUSTER}'" in message
    assert f"'clusterous destroy {CLUSTER}'" in message


def cancel_check(_seconds: float) -> None:
    """A provider wait that takes no time but, like cancel.sleep, ends if cancelled."""
    cancel.check()


def scale_context(
    home: Path,
    account: Account,
    fail_wait: bool = False,
    interrupt_wait: bool = False,
    sleep: Callable[[float], None] = lambda _: None,
) -> ScaleContext:
    ledger = Ledger(Home(home), CLUSTER)
    return ScaleContext(
        make_provider(home, account.profile, sleep=sleep),
        ledger,
        ClusterAccess.of(Home(home), CLUSTER),
        SilentReporter(),
        readiness=FakeReadiness(ledger, fail_wait=fail_wait, interrupt_wait=interrupt_wait),
    )


def test_nodes_are_found_again_by_tag_with_their_names(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    views = make_provider(clusterous_home, account.profile).describe_nodes()
    assert sorted((v.name, v.instance_id) for v in views) == sorted(
        (n.name, n.instance_id) for n in created.nodes
    )
    controller = next(v for v in views if v.name == "controller")
    assert controller.ssh_port == 22 and controller.ssh_host


def test_another_create_of_the_same_name_is_told_apart_even_after_its_instances_ended(
    created: ClusterState, account: Account, clusterous_home: Path
) -> None:
    from clusterous.operations.teardown import NotYours, check_ownership

    ids = [i["InstanceId"] for i in cluster_instances()]
    boto("ec2").terminate_instances(InstanceIds=ids)  # as a lease would end them
    ledger = Ledger(Home(clusterous_home), CLUSTER)
    provider = make_provider(clusterous_home, account.profile)
    check_ownership(CLUSTER, ledger, provider, force=False, warn=print)  # ours: no complaint
    with ledger.change() as state:  # this machine's ledger, another create's cluster
        state.cluster_id = "0123456789abcdef"

    with pytest.raises(NotYours) as refused:
        check_ownership(CLUSTER, ledger, provider, force=False, warn=print)
    vpc = next(r.id for r in created.resources if r.kind == "vpc")
    assert f"vpc {vpc}" in str(refused.value)
    assert tagged_resources() != []  # nothing was touched
