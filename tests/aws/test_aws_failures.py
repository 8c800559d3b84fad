"""Failures on EC2 (moto + fault injection): rollback to zero, retries, zones, spot, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterous.aws.ec2 import CapacityError, QuotaError
from clusterous.aws.errors import AwsCredentialsError, AwsPermissionError, AwsRegionError
from clusterous.config import Profile
from clusterous.errors import ClusterousError, InputError
from clusterous.home import Home
from clusterous.manager.ledger import Ledger
from clusterous.manager.plan import GroupRequest
from tests.aws.faults import Faults
from tests.aws.provider_fixtures import (
    CLUSTER,
    REGION,
    Account,
    account,
    boto,
    cluster_instances,
    fault_server,
    faulty_aws,
    make_provider,
    tagged_resources,
)
from tests.aws.test_aws_create import create
from tests.aws.test_aws_teardown import destroy
from tests.fakes import FakeReadiness

pytestmark = pytest.mark.aws
__all__ = ["account", "fault_server", "faulty_aws"]

CREATE_STEPS = [
    ("GetCallerIdentity", 0),
    ("CreateVpc", 0),
    ("ModifyVpcAttribute", 1),
    ("CreateInternetGateway", 0),
    ("AttachInternetGateway", 0),
    ("CreateRouteTable", 0),
    ("CreateRoute", 0),
    ("CreateSecurityGroup", 0),
    ("AuthorizeSecurityGroupIngress", 0),
    ("CreateSubnet", 0),
    ("AssociateRouteTable", 0),
    ("CreateRole", 0),
    ("PutRolePolicy", 0),
    ("CreateInstanceProfile", 0),
    ("AddRoleToInstanceProfile", 0),
    ("CreateVolume", 0),
    ("GetParameter", 0),
    ("RunInstances", 0),  # the controller
    ("AttachVolume", 0),
    ("RunInstances", 1),  # the master group
    ("RunInstances", 2),  # the worker group
]


@pytest.mark.parametrize(("action", "skip"), CREATE_STEPS)
def test_a_create_failing_at_any_step_rolls_back_to_zero(
    account: Account, clusterous_home: Path, faulty_aws: Faults, action: str, skip: int
) -> None:
    faulty_aws.set({"action": action, "code": "InvalidParameterValue", "skip": skip, "times": 1})
    with pytest.raises(ClusterousError) as failure:
        create(clusterous_home, make_provider(clusterous_home, account.profile))
    assert faulty_aws.report()["injected"] == 1, f"{action} #{skip + 1} was never called"
    assert "failed while" in failure.value.render()
    assert "everything made so far was removed" in failure.value.render()
    assert tagged_resources() == []
    assert not Ledger(Home(clusterous_home), CLUSTER).exists()


@pytest.mark.parametrize("where", ["controller", "wait"])
def test_a_create_whose_nodes_never_get_ready_rolls_back_to_zero(
    account: Account, clusterous_home: Path, where: str
) -> None:
    ledger = Ledger(Home(clusterous_home), CLUSTER)
    readiness = FakeReadiness(
        ledger, fail_controller=where == "controller", fail_wait=where == "wait"
    )
    with pytest.raises(ClusterousError, match="did not"):
        create(
            clusterous_home, make_provider(clusterous_home, account.profile), readiness=readiness
        )
    assert tagged_resources() == []


@pytest.mark.slow
def test_create_completes_with_30_percent_of_calls_throttled(
    account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    faulty_aws.set(throttle=0.3, seed=5)
    state = create(clusterous_home, make_provider(clusterous_home, account.profile))
    report = faulty_aws.report()
    assert state.status == "ready"
    assert report["injected"] >= 0.2 * len(report["calls"])
    faulty_aws.clear()
    assert destroy(clusterous_home, account).leftovers == []


def test_no_capacity_in_the_first_zone_moves_a_group_to_the_next(
    account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    first = f"{REGION}a"
    faulty_aws.set(
        {
            "action": "RunInstances",
            "code": "InsufficientInstanceCapacity",
            "status": 500,
            "zone": first,
            "contains": "t3.large",
        }
    )
    create(clusterous_home, make_provider(clusterous_home, account.profile))
    zones = {i["InstanceType"]: i["Placement"]["AvailabilityZone"] for i in cluster_instances()}
    assert zones == {"t3.medium": first, "t3.large": f"{REGION}b"}
    subnets = boto("ec2").describe_subnets(
        Filters=[{"Name": "tag:clusterous:cluster", "Values": [CLUSTER]}]
    )["Subnets"]
    assert sorted(s["AvailabilityZone"] for s in subnets) == [first, f"{REGION}b"]


SPOT_GROUPS = [GroupRequest("worker", "t3.large", 2, spot=True)]


def test_spot_without_capacity_anywhere_falls_back_to_on_demand(
    account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    no_spot = {
        "action": "RunInstances",
        "code": "InsufficientInstanceCapacity",
        "status": 500,
        "contains": "MarketType=spot",
    }
    faulty_aws.set(no_spot)
    create(clusterous_home, make_provider(clusterous_home, account.profile), SPOT_GROUPS)
    spot_tries = [
        f for f in faulty_aws.forms("RunInstances") if "InstanceMarketOptions.MarketType" in f
    ]
    assert len({f["NetworkInterface.1.SubnetId"][0] for f in spot_tries}) == 3  # every zone
    workers = [i for i in cluster_instances() if i["InstanceType"] == "t3.large"]
    assert len(workers) == 2 and all("InstanceLifecycle" not in i for i in workers)


def test_spot_instances_are_asked_for_and_kept_when_there_is_capacity(
    account: Account, clusterous_home: Path
) -> None:
    create(clusterous_home, make_provider(clusterous_home, account.profile), SPOT_GROUPS)
    workers = [i for i in cluster_instances() if i["InstanceType"] == "t3.large"]
    assert [i.get("InstanceLifecycle") for i in workers] == ["spot", "spot"]


def test_spot_with_fallback_none_fails_naming_type_and_zone_and_rolls_back(
    account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    faulty_aws.set(
        {
            "action": "RunInstances",
            "code": "InsufficientInstanceCapacity",
            "status": 500,
            "contains": "MarketType=spot",
        }
    )
    groups = [GroupRequest("worker", "t3.large", 2, spot=True, spot_fallback="none")]
    with pytest.raises(ClusterousError) as failure:
        create(clusterous_home, make_provider(clusterous_home, account.profile), groups)
    assert isinstance(failure.value.__cause__, CapacityError)
    assert "no spot capacity for t3.large" in failure.value.render()
    assert tagged_resources() == []


# ---------------------------------------------------------------- bad input


def test_an_unknown_instance_type_suggests_close_ones(
    account: Account, clusterous_home: Path
) -> None:
    provider = make_provider(clusterous_home, account.profile)
    with pytest.raises(InputError) as error:
        provider.catalog.check_instance_types(["t3.mediun"])
    assert "unknown instance type 't3.mediun' in eu-west-1" in error.value.render()
    assert "did you mean t3.medium" in error.value.render()


def test_an_instance_type_offered_in_no_zone_is_refused(
    account: Account, clusterous_home: Path
) -> None:
    from botocore.stub import Stubber

    provider = make_provider(clusterous_home, account.profile)
    ec2 = provider.clients.get("ec2")
    with Stubber(ec2) as stub:
        stub.add_response(
            "describe_instance_type_offerings",
            {"InstanceTypeOfferings": [{"InstanceType": "p5.48xlarge", "Location": REGION}]},
        )
        stub.add_response("describe_instance_types", {"InstanceTypes": []})
        stub.add_response("describe_instance_type_offerings", {"InstanceTypeOfferings": []})
        stub.add_response("describe_availability_zones", {"AvailabilityZones": []})
        with pytest.raises(InputError, match=r"p5\.48xlarge is offered in no availability zone"):
            provider.catalog.check_instance_types(["p5.48xlarge"])


def test_no_credentials_says_how_to_give_some(
    account: Account, clusterous_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AwsCredentialsError, match="no AWS credentials found"):
        make_provider(clusterous_home, account.profile).preflight()


def test_an_expired_token_says_to_log_in_again(
    account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    faulty_aws.set({"action": "GetCallerIdentity", "code": "ExpiredToken", "status": 403})
    with pytest.raises(AwsCredentialsError, match="expired"):
        make_provider(clusterous_home, account.profile).preflight()


def test_a_missing_permission_names_the_action(
    account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    faulty_aws.set({"action": "CreateVpc", "code": "UnauthorizedOperation", "status": 403})
    with pytest.raises(ClusterousError) as failure:
        create(clusterous_home, make_provider(clusterous_home, account.profile))
    assert isinstance(failure.value.__cause__, AwsPermissionError)
    assert "not allowed to call ec2:CreateVpc" in failure.value.render()
    assert tagged_resources() == []


def test_an_unknown_region_suggests_the_close_one(account: Account, clusterous_home: Path) -> None:
    profile = Profile(**{**account.profile.__dict__, "region": "eu-wset-1"})
    with pytest.raises(AwsRegionError, match="did you mean eu-west-1"):
        make_provider(clusterous_home, profile).preflight()


def test_an_exceeded_quota_names_the_quota_type_and_region(
    account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    faulty_aws.set({"action": "RunInstances", "code": "VcpuLimitExceeded", "skip": 2})
    with pytest.raises(ClusterousError) as failure:
        create(clusterous_home, make_provider(clusterous_home, account.profile))
    assert isinstance(failure.value.__cause__, QuotaError)
    text = failure.value.render()
    assert "t3.large in eu-west-1 exceeds your quota" in text and "vCPUs" in text
    assert "Service Quotas" in text
    assert tagged_resources() == []


def test_a_profile_without_allowed_cidr_is_refused_before_anything_is_made(
    account: Account, clusterous_home: Path, faulty_aws: Faults
) -> None:
    profile = Profile(**{**account.profile.__dict__, "allowed_cidr": None})
    with pytest.raises(InputError, match="allowed_cidr"):
        make_provider(clusterous_home, profile).preflight()
    assert faulty_aws.calls() == []


@pytest.mark.parametrize(
    ("code", "message"),
    [("403", "belongs to another AWS account"), ("404", "does not exist")],
)
def test_a_registry_bucket_of_another_account_or_none_is_refused(
    account: Account, clusterous_home: Path, code: str, message: str
) -> None:
    from botocore.stub import Stubber

    provider = make_provider(clusterous_home, account.profile)
    s3 = provider.clients.get("s3")
    with Stubber(s3) as stub:  # moto does not check ExpectedBucketOwner
        stub.add_client_error("head_bucket", code, "Forbidden", http_status_code=int(code))
        with pytest.raises(InputError, match=message) as error:
            provider.preflight()
    assert "clusterous setup" in error.value.render()
