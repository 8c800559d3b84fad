"""Sessions: one per profile, region checked offline, errors translated, tests fenced in."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from clusterous.aws.account import AwsAccount
from clusterous.aws.errors import AwsCredentialsError, AwsRegionError
from clusterous.aws.session import (
    AwsCredentials,
    default_region,
    known_aws_profiles,
    open_session,
    session_for,
)
from clusterous.config import Profile

pytestmark = pytest.mark.aws


def write_aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "aws-config"
    config.write_text("[profile research]\nregion = ap-southeast-2\n")
    credentials = tmp_path / "aws-credentials"
    credentials.write_text(
        "[research]\naws_access_key_id = research-key\naws_secret_access_key = research-secret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))


def test_an_unknown_region_is_refused_with_a_suggestion() -> None:
    with pytest.raises(AwsRegionError, match="unknown region 'eu-wset-1'; did you mean eu-west-1"):
        open_session(AwsCredentials(), "eu-wset-1")


def test_regions_of_other_partitions_are_known() -> None:
    assert open_session(AwsCredentials(), "cn-north-1").region == "cn-north-1"


def test_a_profile_with_keys_signs_with_those_keys() -> None:
    profile = Profile(
        name="keys",
        provider="aws",
        region="eu-west-1",
        access_key_id="AKIAEXAMPLEKEY",
        secret_access_key="example-secret",
    )
    session = session_for(profile)
    frozen = session.boto.get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key) == ("AKIAEXAMPLEKEY", "example-secret")
    assert session.region == "eu-west-1"


def test_an_aws_cli_profile_gives_its_keys_and_region(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_aws_config(tmp_path, monkeypatch)
    credentials = AwsCredentials(aws_profile="research")
    assert known_aws_profiles() == ["research"]
    assert default_region(credentials) == "ap-southeast-2"
    session = open_session(credentials, None)
    assert session.region == "ap-southeast-2"
    assert session.boto.get_credentials().get_frozen_credentials().access_key == "research-key"


def test_an_unknown_aws_profile_says_how_to_create_it() -> None:
    with pytest.raises(AwsCredentialsError, match="AWS profile 'nope' not found"):
        open_session(AwsCredentials(aws_profile="nope"), "us-east-1")


def test_no_credentials_at_all_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    account = AwsAccount(open_session(AwsCredentials(), "us-east-1"))
    with pytest.raises(AwsCredentialsError, match="no AWS credentials found"):
        account.caller_identity()


def test_sessions_do_not_share_clients_and_retry_in_standard_mode() -> None:
    first = open_session(AwsCredentials(), "us-east-1")
    second = open_session(AwsCredentials(), "us-east-1")
    assert first.client("ec2") is first.client("ec2")
    assert first.client("ec2") is not second.client("ec2")
    assert first.client("ec2").meta.config.retries["mode"] == "standard"


def test_the_test_guard_refuses_real_aws_endpoints() -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url="https://ec2.amazonaws.com")
    with pytest.raises(RuntimeError, match=r"only moto on 127\.0\.0\.1 is allowed"):
        ec2.describe_regions()
