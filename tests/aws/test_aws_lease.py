"""The lease on EC2 (moto): every node may end itself, and knows its lease from boot.

A node ends itself by shutting down (``clusterous-lease`` on the node); only
``InstanceInitiatedShutdownBehavior=terminate`` makes that the end of the
instance, its root disk and its public address, with no credential on it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions
from clusterous.manager.destroy import destroy_cluster
from clusterous.manager.ledger import Ledger
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
    cluster_instances,
    fault_server,
    faulty_aws,
    make_provider,
    tagged_resources,
    user_data_of,
)
from tests.fakes import FakeReadiness

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws"]  # fixtures used by name


def create_with_lease(home: Path, account: Account, hours: float, idle: int) -> ClusterState:
    provider = make_provider(home, account.profile)
    groups = [GroupRequest("worker", "t3.large", 2, spot=True)]
    plan = plan_cluster(CLUSTER, provider, "aws", groups, None, 10)
    plan = replace(plan, max_hours=hours, idle_minutes=idle)
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


def test_every_node_terminates_when_it_shuts_itself_down(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    create_with_lease(clusterous_home, account, 8.0, 0)
    instances = cluster_instances()
    assert len(instances) == 3
    for instance in instances:
        answer = boto("ec2").describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="instanceInitiatedShutdownBehavior"
        )
        assert answer["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    launches = list(faulty_aws.forms("RunInstances"))
    assert [f["InstanceInitiatedShutdownBehavior"] for f in launches] == [["terminate"]] * 2


def test_every_node_boots_with_its_lease_and_the_ledger_keeps_it(
    account: Account, clusterous_home: Path
) -> None:
    state = create_with_lease(clusterous_home, account, 1.5, 20)
    assert (state.lease.max_hours, state.lease.idle_minutes) == (1.5, 20)
    assert state.lease.expires_at > 0
    for instance in cluster_instances():
        script = user_data_of(instance["InstanceId"])
        assert "CLUSTEROUS_LEASE_SECONDS=5400\n" in script
        assert "CLUSTEROUS_IDLE_MINUTES=20\n" in script


def test_once_the_lease_has_terminated_every_node_status_says_so_and_destroy_sweeps_the_rest(
    account: Account, clusterous_home: Path
) -> None:
    create_with_lease(clusterous_home, account, 8.0, 0)
    # What the nodes do at the end of their lease: shut down, and EC2 terminates them.
    ids = [i["InstanceId"] for i in cluster_instances()]
    boto("ec2").terminate_instances(InstanceIds=ids)
    provider = make_provider(clusterous_home, account.profile)
    ledger = Ledger(Home(clusterous_home), CLUSTER)
    access = ClusterAccess.of(Home(clusterous_home), CLUSTER)
    seen = cluster_status(ledger.load(), provider, access)
    assert {n.machine for n in seen.nodes} == {"missing"}
    assert any("its lease (or idle stop) ended them" in p for p in seen.problems), seen.problems
    result = destroy_cluster(CLUSTER, provider, ledger, False, SilentReporter())
    assert result.leftovers == [] and tagged_resources() == []


def test_the_dry_run_shows_the_aws_profiles_default_lease_and_the_flags_override_it(
    account: Account, cli_runner: Any
) -> None:
    default = cli_runner("create", "--name", CLUSTER, "--workers", "1", "--dry-run")
    assert default.exit_code == 0, default.output
    assert "lease: the cluster ends itself 8 h after the last command" in default.stdout
    flags = ("--max-hours", "2.5", "--idle-minutes", "30")
    chosen = cli_runner("create", "--name", CLUSTER, "--workers", "1", *flags, "--dry-run")
    assert "ends itself 2.5 h after the last command; idle stop after 30 min" in chosen.stdout
    none = cli_runner("create", "--name", CLUSTER, "--max-hours", "0", "--dry-run")
    assert none.exit_code == 0, none.output
    assert "lease: none" in none.stdout
    assert "--max-hours 0: no lease" in none.stderr
