"""An instance that stops or ends while its node boots is told with EC2's reason (moto).

moto's instances never boot, so the wait for Swarm is a link that does what
the real one does every 10 s: it asks the provider whether the machines it
waits for are still alive. Here an instance is terminated (or stopped) behind
the create's back, as a spot interruption or a shutdown in user-data would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from clusterous.errors import ClusterousError, ExitCode
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.create import ClusterCreator, CreateOptions
from clusterous.manager.ledger import Ledger
from clusterous.manager.machines import MachineWatch
from clusterous.manager.plan import GroupRequest, plan_cluster
from clusterous.manager.report import SilentReporter
from clusterous.providers.aws.provider import AwsProvider
from clusterous.records import ClusterState, NodeRecord
from tests.aws.faults import Faults
from tests.aws.provider_fixtures import (
    CLUSTER,
    Account,
    account,
    boto,
    fault_server,
    faulty_aws,
    make_provider,
    tagged_resources,
)
from tests.fakes import FakeClock, FakeLink, FakeReadiness

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws"]  # fixtures used by name


def creator(home: Path, provider: AwsProvider, readiness: object) -> ClusterCreator:
    groups = [GroupRequest("worker", "t3.medium", 2)]
    plan = replace(plan_cluster(CLUSTER, provider, "aws", groups, None, 10), max_hours=0.0)
    return ClusterCreator(
        plan,
        provider,
        Ledger(Home(home), CLUSTER),
        ClusterAccess.of(Home(home), CLUSTER),
        SilentReporter(),
        CreateOptions(timeout=600),
        readiness=readiness,  # type: ignore[arg-type]
    )


def instance_of(state: ClusterState, name: str) -> str:
    return state.node(name).instance_id


def test_a_stopped_and_a_terminated_instance_are_told_with_ec2s_reason(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    provider = make_provider(clusterous_home, account.profile)
    ledger = Ledger(Home(clusterous_home), CLUSTER)
    state = creator(clusterous_home, provider, FakeReadiness(ledger)).create()
    boto("ec2").stop_instances(InstanceIds=[instance_of(state, "worker-1")])
    boto("ec2").terminate_instances(InstanceIds=[instance_of(state, "worker-2")])
    found = provider.boot_failures(state.nodes)
    assert sorted(found) == ["worker-1", "worker-2"]  # the controller still runs
    assert found["worker-1"].state == "stopped"
    assert found["worker-2"].state == "terminated"
    assert found["worker-2"].reason.startswith("EC2 says: Client.UserInitiatedShutdown")


@dataclass
class TerminatingLink(FakeLink):
    """A Swarm wait during which worker-1's instance is terminated; the watch tells it."""

    watch: MachineWatch | None = None

    def wait_ready(self, nodes: Sequence[NodeRecord], deadline: float) -> None:
        assert self.watch is not None
        victim = instance_of(self.ledger.load(), "worker-1")
        boto("ec2").terminate_instances(InstanceIds=[victim])
        self.watch.check(nodes)


@dataclass
class TerminatingReadiness:
    ledger: Ledger
    watch: MachineWatch

    @contextmanager
    def controller(self, state: ClusterState, deadline: float) -> Iterator[TerminatingLink]:
        yield TerminatingLink(self.ledger, [], watch=self.watch)


def test_a_create_whose_instance_ends_while_booting_fails_with_the_reason_and_leaves_nothing(
    account: Account, faulty_aws: Faults, clusterous_home: Path
) -> None:
    provider = make_provider(clusterous_home, account.profile)
    ledger = Ledger(Home(clusterous_home), CLUSTER)
    readiness = TerminatingReadiness(ledger, MachineWatch(provider, FakeClock()))
    with pytest.raises(ClusterousError) as failure:
        creator(clusterous_home, provider, readiness).create()
    text = failure.value.render()
    assert "the machine of node worker-1 (terminated) died while it booted" in text
    assert "EC2 says: Client.UserInitiatedShutdown" in text and "run the command again" in text
    assert failure.value.exit_code == ExitCode.FAILED
    assert tagged_resources() == [] and not ledger.exists()
