"""Taking an AWS cluster over from another machine ('workon'), against moto.

The other machine has the same AWS profile (with its key pair's private key
file) and an empty CLUSTEROUS_HOME. Everything it rebuilds comes from tags and
IAM names; the host keys it pins come from the instances' tags, never from the
nodes; the login key is the profile's key pair, which the nodes authorize.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clusterous.aws.keys import public_key_of
from clusterous.config import Config, Profile, save_config
from clusterous.errors import ClusterousError, InputError
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.ledger import Ledger
from clusterous.manager.plan import GroupRequest
from clusterous.operations.clusters import workon
from clusterous.records import ClusterState, LeaseRecord
from tests.aws.provider_fixtures import (
    CLUSTER,
    KEY_PAIR,
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
from tests.aws.test_aws_create import create

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws"]

GROUPS = [GroupRequest("master", "t3.medium", 1), GroupRequest("worker", "t3.large", 3, True)]


@pytest.fixture
def created(account: Account, clusterous_home: Path) -> ClusterState:
    return create(clusterous_home, make_provider(clusterous_home, account.profile), GROUPS)


def other_machine(tmp_path: Path, account: Account) -> Home:
    """A fresh home with the same AWS profile; its key file copied there by the user."""
    home = Home(tmp_path / "other-machine")
    key_file = home.root / "keys" / KEY_PAIR
    key_file.parent.mkdir(parents=True)
    assert account.profile.key_path is not None
    shutil.copy(account.profile.key_path, key_file)
    key_file.chmod(0o600)
    profile = Profile(**{**account.profile.__dict__, "key_file": str(key_file)})
    save_config(home, Config().with_profile(profile, make_current=True))
    return home


def comparable(state: ClusterState) -> dict[str, object]:
    return {
        "nodes": sorted(
            (n.name, n.group, n.instance_type, n.instance_id, n.private_addr, n.ssh_host)
            for n in state.nodes
        ),
        "resources": sorted((r.kind, r.id, r.keep) for r in state.resources),
        "private_cidr": state.private_cidr,
        "groups": state.groups,
    }


def test_workon_on_another_machine_rebuilds_the_ledger_from_tags(
    created: ClusterState, account: Account, tmp_path: Path
) -> None:
    home = other_machine(tmp_path, account)
    adopted = workon(home, CLUSTER, None)
    assert comparable(adopted) == comparable(created)
    assert (adopted.provider, adopted.profile, adopted.status) == ("aws", "aws", "ready")
    assert adopted.controller is not None and adopted.controller.ssh_port == 22
    assert Ledger(home, CLUSTER).load() == adopted


def test_workon_pins_the_host_keys_the_creating_machine_pinned(
    created: ClusterState, account: Account, clusterous_home: Path, tmp_path: Path
) -> None:
    home = other_machine(tmp_path, account)
    workon(home, CLUSTER, None)
    first = ClusterAccess.of(Home(clusterous_home), CLUSTER).known_hosts.entries()
    again = ClusterAccess.of(home, CLUSTER).known_hosts.entries()
    assert again == first and len(again) == len(created.nodes)


def test_the_host_keys_come_from_tags_without_a_word_to_the_nodes(
    created: ClusterState, account: Account, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clusterous.remote.ssh as ssh

    def no_ssh(*_: object, **__: object) -> None:
        raise AssertionError("workon on AWS must not connect to the nodes")

    monkeypatch.setattr(ssh, "connect", no_ssh)
    workon(other_machine(tmp_path, account), CLUSTER, None)
    for instance in cluster_instances():
        tag = {t["Key"]: t["Value"] for t in instance["Tags"]}["clusterous:host-key"]
        assert tag.startswith("ssh-ed25519 ") and len(tag.split()) == 2 and len(tag) <= 256


def test_every_node_authorizes_the_profiles_key_pair_for_root(
    created: ClusterState, account: Account, clusterous_home: Path, tmp_path: Path
) -> None:
    assert account.profile.key_path is not None
    public = public_key_of(account.profile.key_path)
    for node in created.nodes:
        assert f"CLUSTEROUS_AUTHORIZED_KEY='{public}'" in user_data_of(node.instance_id)
    home = other_machine(tmp_path, account)
    workon(home, CLUSTER, None)
    for machine in (Home(clusterous_home), home):
        access = ClusterAccess.of(machine, CLUSTER)
        assert access.key_path.is_symlink()  # the profile's key file: linked, never copied
        assert public_key_of(access.key_path) == public
        assert access.login_public_key() == public


def test_a_local_cluster_keeps_a_login_key_of_its_own(tmp_path: Path) -> None:
    access = ClusterAccess.of(Home(tmp_path), "here")
    pair = access.login_key_for(None)
    assert not access.key_path.is_symlink()
    assert access.login_public_key() == pair.public_openssh


def test_workon_of_a_name_with_no_cluster_says_so(
    created: ClusterState, account: Account, tmp_path: Path
) -> None:
    home = other_machine(tmp_path, account)
    with pytest.raises(ClusterousError, match="no cluster named 'ghost' found with profile 'aws'"):
        workon(home, "ghost", None)
    assert not Ledger(home, "ghost").exists()


def test_a_cluster_without_host_key_tags_is_not_taken_over(
    created: ClusterState, account: Account, tmp_path: Path
) -> None:
    ids = [n.instance_id for n in created.nodes]
    boto("ec2").delete_tags(Resources=ids, Tags=[{"Key": "clusterous:host-key"}])
    with pytest.raises(ClusterousError, match="made by an older clusterous"):
        workon(other_machine(tmp_path, account), CLUSTER, None)


def test_a_profile_with_another_key_pair_is_told_which_one_opens_the_cluster(
    created: ClusterState, account: Account, tmp_path: Path
) -> None:
    home = other_machine(tmp_path, account)
    other = Profile(**{**account.profile.__dict__, "key_pair": "someone-else"})
    save_config(home, Config().with_profile(other, make_current=True))
    with pytest.raises(InputError, match=f"made with the EC2 key pair '{KEY_PAIR}'"):
        workon(home, CLUSTER, None)


def test_the_adopted_cluster_can_be_destroyed_from_the_other_machine(
    created: ClusterState, account: Account, tmp_path: Path
) -> None:
    from clusterous.manager.destroy import destroy_cluster
    from clusterous.manager.report import SilentReporter

    home = other_machine(tmp_path, account)
    workon(home, CLUSTER, None)
    provider = make_provider(home.root, account.profile)
    result = destroy_cluster(CLUSTER, provider, Ledger(home, CLUSTER), False, SilentReporter())
    assert result.leftovers == [] and tagged_resources() == []


def test_workon_on_another_machine_keeps_the_lease_the_cluster_was_made_with(
    account: Account, clusterous_home: Path, tmp_path: Path
) -> None:
    """Without it, machine B would never renew the lease (nor stop an idle cluster)."""
    provider = make_provider(clusterous_home, account.profile)
    create(clusterous_home, provider, GROUPS, max_hours=5.5, idle_minutes=30)
    for instance in cluster_instances():
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert (tags["clusterous:lease-seconds"], tags["clusterous:idle-minutes"]) == (
            "19800",
            "30",
        )
    adopted = workon(other_machine(tmp_path, account), CLUSTER, None)
    assert adopted.lease == LeaseRecord(max_hours=5.5, idle_minutes=30, expires_at=0.0)


def test_workon_of_a_cluster_made_before_the_lease_tags_takes_it_over_without_a_lease(
    created: ClusterState, account: Account, tmp_path: Path
) -> None:
    ids = [n.instance_id for n in created.nodes]
    gone = [{"Key": "clusterous:lease-seconds"}, {"Key": "clusterous:idle-minutes"}]
    boto("ec2").delete_tags(Resources=ids, Tags=gone)
    adopted = workon(other_machine(tmp_path, account), CLUSTER, None)
    assert adopted.lease == LeaseRecord() and adopted.status == "ready"


def test_a_stopped_cluster_is_taken_over_as_stopped(
    created: ClusterState, account: Account, tmp_path: Path
) -> None:
    """So that 'clusterous start' brings it back from the other machine."""
    boto("ec2").stop_instances(InstanceIds=[n.instance_id for n in created.nodes])
    adopted = workon(other_machine(tmp_path, account), CLUSTER, None)
    assert adopted.status == "stopped"
    assert sorted(n.name for n in adopted.nodes) == sorted(n.name for n in created.nodes)
    assert not any(n.ready for n in adopted.nodes)


def test_a_half_stopped_cluster_is_taken_over_as_stopping(
    created: ClusterState, account: Account, tmp_path: Path
) -> None:
    workers = [n.instance_id for n in created.nodes if n.group == "worker"]
    boto("ec2").stop_instances(InstanceIds=workers)
    adopted = workon(other_machine(tmp_path, account), CLUSTER, None)
    assert adopted.status == "stopping"


def test_a_cluster_whose_controller_ended_is_not_taken_over(
    created: ClusterState, account: Account, tmp_path: Path
) -> None:
    assert created.controller is not None
    boto("ec2").terminate_instances(InstanceIds=[created.controller.instance_id])
    home = other_machine(tmp_path, account)
    with pytest.raises(ClusterousError, match=f"cluster '{CLUSTER}' has no controller left"):
        workon(home, CLUSTER, None)
    assert not Ledger(home, CLUSTER).exists()
