"""AwsAccount against moto in server mode: identity, key pairs, the registry bucket."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from clusterous.aws.account import AwsAccount, create_bucket_arguments
from clusterous.aws.errors import AwsCredentialsError, AwsPermissionError, BucketTakenError
from clusterous.aws.keys import new_private_key
from clusterous.aws.session import AwsCredentials, open_session
from clusterous.errors import InputError

pytestmark = pytest.mark.aws


OTHER_ACCOUNT = "333344445555"


def public_key_line(private_key: bytes) -> str:
    from cryptography.hazmat.primitives import serialization

    key: Any = serialization.load_ssh_private_key(private_key, password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def account(region: str = "eu-west-1", credentials: AwsCredentials | None = None) -> AwsAccount:
    return AwsAccount(open_session(credentials or AwsCredentials(), region))


def bucket_tags(name: str) -> dict[str, str]:
    s3: Any = boto3.client("s3", region_name="us-east-1")
    return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=name)["TagSet"]}


def test_caller_identity_is_moto_default_account() -> None:
    identity = account().caller_identity()
    assert identity.account == "123456789012"
    assert identity.arn.startswith("arn:aws:")


def test_a_missing_key_pair_is_none_and_an_imported_one_is_found() -> None:
    acct = account()
    assert acct.find_key_pair("clusterous-aws") is None
    imported = acct.import_key_pair("clusterous-aws", public_key_line(new_private_key()))
    found = acct.find_key_pair("clusterous-aws")
    assert found is not None and found.key_pair_id == imported.key_pair_id


def test_importing_an_existing_name_returns_the_existing_pair() -> None:
    acct = account()
    first = acct.import_key_pair("dup", public_key_line(new_private_key()))
    again = acct.import_key_pair("dup", public_key_line(new_private_key()))
    assert again.key_pair_id == first.key_pair_id
    ec2: Any = boto3.client("ec2", region_name="eu-west-1")
    assert len(ec2.describe_key_pairs()["KeyPairs"]) == 1


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_a_new_bucket_is_created_in_the_region_and_tagged(region: str) -> None:
    created = account(region).ensure_bucket(f"registry-{region}")
    assert created is True
    s3: Any = boto3.client("s3", region_name=region)
    location = s3.get_bucket_location(Bucket=f"registry-{region}")["LocationConstraint"]
    assert (location or "us-east-1") == region
    assert bucket_tags(f"registry-{region}") == {"clusterous:role": "registry-bucket"}


def test_our_existing_bucket_is_reused_and_keeps_its_tags() -> None:
    s3: Any = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(**create_bucket_arguments("ours", "eu-west-1"))
    s3.put_bucket_tagging(Bucket="ours", Tagging={"TagSet": [{"Key": "team", "Value": "bio"}]})
    assert account("eu-west-1").ensure_bucket("ours") is False
    assert account("eu-west-1").ensure_bucket("ours") is False
    assert bucket_tags("ours") == {"team": "bio", "clusterous:role": "registry-bucket"}


def test_a_bucket_name_owned_by_another_account_is_refused(aws: Any) -> None:
    other = aws.client_in_account("s3", OTHER_ACCOUNT, "us-east-1")
    other.create_bucket(Bucket="popular-name")
    with pytest.raises(BucketTakenError, match="taken by another AWS account"):
        account("us-east-1").ensure_bucket("popular-name")


def test_our_bucket_in_another_region_is_refused_with_the_fix() -> None:
    s3: Any = boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(**create_bucket_arguments("far-away", "eu-west-1"))
    with pytest.raises(InputError, match="is in region eu-west-1, not in us-east-1"):
        account("us-east-1").ensure_bucket("far-away")


def test_create_bucket_arguments_omit_the_constraint_only_in_us_east_1() -> None:
    assert create_bucket_arguments("b", "us-east-1") == {"Bucket": "b"}
    assert create_bucket_arguments("b", "ap-southeast-2")["CreateBucketConfiguration"] == {
        "LocationConstraint": "ap-southeast-2"
    }


def test_a_denied_call_names_the_missing_permission(aws: Any) -> None:
    key_id, secret = aws.restricted_keys(["sts:GetCallerIdentity", "ec2:DescribeKeyPairs"])
    aws.enforce_iam()
    acct = account(credentials=AwsCredentials(access_key_id=key_id, secret_access_key=secret))
    assert acct.caller_identity().account == "123456789012"
    assert acct.find_key_pair("k") is None
    with pytest.raises(AwsPermissionError) as caught:
        acct.import_key_pair("k", public_key_line(new_private_key()))
    assert caught.value.action == "ec2:ImportKeyPair"
    assert "not allowed to call ec2:ImportKeyPair" in caught.value.render()


def test_keys_aws_does_not_know_are_bad_credentials(aws: Any) -> None:
    aws.enforce_iam()
    bogus = AwsCredentials(access_key_id="AKIAUNKNOWNKEY000000", secret_access_key="x" * 40)
    with pytest.raises(AwsCredentialsError, match="does not accept these credentials"):
        account(credentials=bogus).caller_identity()
