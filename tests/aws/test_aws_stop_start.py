"""`clusterous stop` and `start` on EC2 (moto): StopInstances and StartInstances on every node.

The nodes never boot on moto: readiness is the fake one, and the clusters
here have no lease (pausing it needs SSH to the nodes; the twin and the local
e2e do that). What is proven: the API calls, the waits, the states the ledger
and status show, the controller's new public address, what a stopped cluster
still bills, and the refusals.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions
from clusterous.manager.ledger import Ledger
from clusterous.manager.pause import PauseContext, start_cluster, stop_cluster
from clusterous.manager.plan import GroupRequest, plan_cluster
from clusterous.manager.report import SilentReporter
from clusterous.manager.status import cluster_status
from clusterous.records import ClusterState
from tests.aws.faults import Faults
from tests.aws.provider_fixtures import (
    CLUSTER,
    Account,
    account,
    boto,
    fault_server,
    faulty_aws,
    make_provider,
)
from tests.aws.test_aws_commands import seed_prices
from tests.fakes import FakeReadiness

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws"]  # fixtures used by name


def create(home: Path, account: Account, spot: bool = False) -> ClusterState:
    provider = make_provider(home, account.profile)
    groups = [GroupRequest("worker", "t3.medium", 2, spot=spot)]
    plan = replace(plan_cluster(CLUSTER, provider, "aws", groups, None, 10), max_hours=0.0)
    ledger = Ledger(Home(home), CLUSTER)
    return ClusterCreator(
        plan,
        provider,
        ledger,
        ClusterAccess.of(Home(home), CLUSTER),
        SilentReporter(),
        CreateOptions(timeout=600),
        readiness=FakeReadiness(ledger),
    ).create()


def context(home: Path, account: Account) -> PauseContext:
    ledger = Ledger(Home(home), CLUSTER)
    return PauseContext(
        make_provider(home, account.profile),
        ledger,
        ClusterAccess.of(Home(home), CLUSTER),
        SilentReporter(),
        readiness=FakeReadiness(ledger),
    )


def instances() -> list[dict[str, Any]]:
    """The cluster's instances in every state."""
    answer = boto("ec2").describe_instances(
        Filters=[{"Name": "tag:clusterous:cluster", "Values": [CLUSTER]}]
    )
    return [i for r in answer["Reservations"] for i in r["Instances"]]


def states() -> dict[str, str]:
    return {i["InstanceId"]: i["State"]["Name"] for i in instances()}


def called_ids(faults: Faults, action: str) -> list[str]:
    return sorted(
        v
        for form in faults.forms(action)
        for k, vs in form.items()
        for v in vs
        if k.startswith("InstanceId")
    )


def test_stop_calls_stop_instances_on_every_node_and_status_shows_stopped(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    state = create(clusterous_home, account)
    ids = sorted(n.instance_id for n in state.nodes)
    faulty_aws.clear()
    ctx = context(clusterous_home, account)
    stop_cluster(ctx)
    assert called_ids(faulty_aws, "StopInstances") == ids
    assert set(states().values()) == {"stopped"}
    stopped = ctx.ledger.load()
    assert stopped.status == "stopped"
    seen = cluster_status(stopped, ctx.provider, ctx.access)
    assert seen.stopped and seen.status == "stopped"
    assert {n.machine for n in seen.nodes} == {"stopped"}
    assert seen.problems == [] and seen.lease is None  # no SSH tried, no alarm raised


def test_start_calls_start_instances_on_every_node_and_leaves_them_running_and_ready(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    state = create(clusterous_home, account)
    ids = sorted(n.instance_id for n in state.nodes)
    ctx = context(clusterous_home, account)
    stop_cluster(ctx)
    faulty_aws.clear()
    start_cluster(ctx)
    assert called_ids(faulty_aws, "StartInstances") == ids
    assert set(states().values()) == {"running"}
    started = ctx.ledger.load()
    assert started.status == "ready" and all(n.ready for n in started.nodes)
    controller = next(i for i in instances() if i["InstanceId"] == started.nodes[0].instance_id)
    assert started.controller is not None
    assert started.controller.ssh_host == controller["PublicIpAddress"]  # read again after start


def test_a_cluster_with_spot_nodes_is_refused_before_anything_stops(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    create(clusterous_home, account, spot=True)
    faulty_aws.clear()
    with pytest.raises(ClusterousError) as refused:
        stop_cluster(context(clusterous_home, account))
    assert "spot instances, which AWS cannot stop" in refused.value.what
    assert list(faulty_aws.forms("StopInstances")) == []
    assert set(states().values()) == {"running"}


def test_the_cli_says_what_a_stopped_cluster_still_bills_and_refuses_what_needs_the_nodes(
    account: Account, cli_runner: Any, clusterous_home: Path
) -> None:
    seed_prices(clusterous_home, {"gp3": ("0.0876", "GB-Mo")})
    create(clusterous_home, account)
    stopped = cli_runner("stop", CLUSTER)
    assert stopped.exit_code == 0, stopped.output
    status = cli_runner("status", CLUSTER)
    assert status.exit_code == 0, status.output
    assert f"Cluster {CLUSTER} (aws" in status.stdout and "stopped" in status.stdout
    rows = {line.split("│")[0].strip(): line for line in status.stdout.splitlines() if "│" in line}
    assert "$0.0012" in rows["shared volume"]  # 10 GiB x 0.0876 / 730, per hour
    assert "$0.0072" in rows["root disks"]  # 3 x 20 GiB
    assert not any("on demand" in r or "public IPv4" in r for r in rows)  # no instance bills
    assert "Stopped: it bills for its disks and stored images only" in status.stdout
    for command in (
        ("ssh", "--cluster", CLUSTER, "controller", "--", "true"),
        ("add-nodes", "1", "--cluster", CLUSTER),
    ):
        refused = cli_runner(*command)
        assert refused.exit_code == 1, refused.output
        assert f"cluster '{CLUSTER}' is stopped" in refused.stderr
        assert f"run 'clusterous start {CLUSTER}'" in refused.stderr
    again = cli_runner("stop", CLUSTER)
    assert again.exit_code == 0 and "already stopped" in again.stdout


def test_start_on_a_cluster_whose_lease_terminated_its_instances_offers_destroy(
    account: Account, cli_runner: Any, clusterous_home: Path
) -> None:
    create(clusterous_home, account)
    boto("ec2").terminate_instances(InstanceIds=list(states()))  # the lease's end, on EC2
    for command in ("start", "stop"):
        refused = cli_runner(command, CLUSTER)
        assert refused.exit_code == 1, refused.output
        assert "has already ended: its lease ran out" in refused.stderr
        assert f"clusterous destroy {CLUSTER}" in refused.stderr
