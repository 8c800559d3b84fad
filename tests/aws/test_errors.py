"""The botocore border: real botocore exceptions become messages people can act on."""

from __future__ import annotations

import pytest
from botocore import exceptions as bx

from clusterous.aws.errors import (
    AwsCredentialsError,
    AwsError,
    AwsPermissionError,
    AwsQuotaError,
    BucketTakenError,
    CallSite,
    action_from_message,
    aws_errors,
    translate,
    unknown_region,
)
from clusterous.errors import ExitCode

SITE = CallSite("ec2:ImportKeyPair", aws_profile="research", region="eu-west-1")


def client_error(code: str, message: str, operation: str = "ImportKeyPair") -> bx.ClientError:
    return bx.ClientError({"Error": {"Code": code, "Message": message}}, operation)


def test_no_credentials_says_how_to_provide_them() -> None:
    error = translate(bx.NoCredentialsError(), SITE)
    assert isinstance(error, AwsCredentialsError)
    assert "no AWS credentials found" in error.render()
    assert "clusterous setup --aws-profile NAME" in error.render()
    assert "aws sso login" in error.render()


@pytest.mark.parametrize("code", ["ExpiredToken", "ExpiredTokenException", "RequestExpired"])
def test_expired_credentials_suggest_sso_login_for_the_profile(code: str) -> None:
    error = translate(client_error(code, "The security token included has expired"), SITE)
    assert isinstance(error, AwsCredentialsError)
    assert "expired" in error.render()
    assert "aws sso login --profile research" in error.render()


def test_expired_sso_token_is_an_expired_credential() -> None:
    error = translate(bx.TokenRetrievalError(provider="sso", error_msg="token expired"), SITE)
    assert "aws sso login --profile research" in error.render()


def test_access_denied_names_the_action_from_the_message() -> None:
    message = (
        "User: arn:aws:iam::123456789012:user/ana is not authorized to perform: "
        "s3:CreateBucket on resource: arn:aws:s3:::x because no identity-based policy allows it"
    )
    error = translate(client_error("AccessDenied", message, "CreateBucket"), SITE)
    assert isinstance(error, AwsPermissionError)
    assert error.action == "s3:CreateBucket"
    assert "not allowed to call s3:CreateBucket" in error.render()


def test_unauthorized_operation_without_detail_names_the_call_site_action() -> None:
    error = translate(
        client_error("UnauthorizedOperation", "You are not authorized to perform this operation."),
        SITE,
    )
    assert isinstance(error, AwsPermissionError)
    assert "your AWS identity is not allowed to call ec2:ImportKeyPair" in error.render()


@pytest.mark.parametrize("code", ["InvalidClientTokenId", "SignatureDoesNotMatch"])
def test_bad_keys_say_the_keys_are_wrong(code: str) -> None:
    error = translate(client_error(code, "The security token is invalid."), SITE)
    assert isinstance(error, AwsCredentialsError)
    assert "does not accept these credentials" in error.render()


def test_a_bucket_of_another_account_asks_for_another_name() -> None:
    site = CallSite("s3:CreateBucket", resource="popular-name")
    error = translate(client_error("BucketAlreadyExists", "taken", "CreateBucket"), site)
    assert isinstance(error, BucketTakenError)
    assert error.exit_code == ExitCode.BAD_INPUT
    assert "'popular-name' is taken by another AWS account" in error.render()
    assert "--bucket" in error.render()


def test_a_missing_aws_profile_says_how_to_create_it() -> None:
    error = translate(bx.ProfileNotFound(profile="research"), SITE)
    assert "AWS profile 'research' not found" in error.render()
    assert "aws configure sso --profile research" in error.render()


def test_an_unreachable_endpoint_names_the_region() -> None:
    error = translate(
        bx.EndpointConnectionError(endpoint_url="https://ec2.xx-1.amazonaws.com"), SITE
    )
    assert "cannot reach AWS in region 'eu-west-1'" in error.render()


def test_any_other_client_error_keeps_code_and_message() -> None:
    error = translate(client_error("VcpuLimitExceeded", "too many vCPUs"), SITE)
    assert type(error) is AwsError
    assert "ec2:ImportKeyPair failed: VcpuLimitExceeded: too many vCPUs" in error.render()


def test_aws_errors_translates_inside_the_block_and_chains_the_cause() -> None:
    original = client_error("AccessDenied", "denied")
    with pytest.raises(AwsPermissionError) as caught, aws_errors("ec2:DescribeKeyPairs"):
        raise original
    assert caught.value.__cause__ is original
    assert caught.value.action == "ec2:DescribeKeyPairs"


def test_aws_errors_lets_our_own_errors_through() -> None:
    with pytest.raises(ValueError), aws_errors("ec2:DescribeKeyPairs"):
        raise ValueError("a bug, not AWS")


def test_action_from_message_finds_service_and_action() -> None:
    assert action_from_message("... not authorized to perform: iam:PassRole on ...") == (
        "iam:PassRole"
    )
    assert action_from_message("Access Denied") is None


def test_unknown_region_suggests_close_names() -> None:
    error = unknown_region("us-est-1", ["us-east-1", "us-east-2", "eu-west-1"])
    assert error.render().startswith("unknown region 'us-est-1'; did you mean us-east-1")
    assert "did you mean" not in unknown_region("mars-1", ["us-east-1"]).render()


@pytest.mark.parametrize(
    ("code", "things", "quota"),
    [
        ("VpcLimitExceeded", "VPCs", "VPCs per Region"),
        ("InternetGatewayLimitExceeded", "internet gateways", "Internet gateways per Region"),
    ],
)
def test_a_network_quota_says_how_to_free_or_raise_it(code: str, things: str, quota: str) -> None:
    message = "The maximum number of VPCs has been reached."
    error = translate(client_error(code, message, "CreateVpc"), SITE)
    assert isinstance(error, AwsQuotaError)
    text = error.render()
    assert f"reached its limit of {things} in eu-west-1" in text
    assert "clusterous destroy NAME" in text and "VPC console" in text
    assert "Service Quotas console" in text and f"'{quota}'" in text
