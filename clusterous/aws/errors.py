"""Where botocore's exceptions become ClusterousErrors that say what to do.

Every boto3 call of clusterous runs inside ``aws_errors(action)``; nothing
above this module ever sees a botocore exception (DESIGN section 6). The
translation is a pure function of the exception, so it is tested with real
botocore exception objects as well as against moto.
"""

from __future__ import annotations

import contextlib
import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from clusterous.errors import ClusterousError, InputError

EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthFailure"}
)
BAD_KEY_CODES = frozenset({"InvalidClientTokenId", "SignatureDoesNotMatch", "InvalidAccessKeyId"})
NETWORK_QUOTAS = {
    "VpcLimitExceeded": ("VPCs", "VPCs per Region"),
    "InternetGatewayLimitExceeded": ("internet gateways", "Internet gateways per Region"),
}
ACTION_IN_MESSAGE = re.compile(r"perform:\s*([A-Za-z0-9-]+:[A-Za-z0-9*]+)")


class AwsCredentialsError(ClusterousError):
    """No credentials, expired credentials, or credentials AWS does not accept."""


class AwsPermissionError(ClusterousError):
    """The AWS identity is not allowed to call an action."""

    def __init__(self, action: str, detail: str | None = None) -> None:
        self.action = action
        super().__init__(
            f"your AWS identity is not allowed to call {action}",
            detail,
            f"ask your AWS administrator to allow {action} "
            "(docs/configuration.md lists every permission clusterous needs)",
        )


class AwsRegionError(InputError):
    """A region name AWS does not know."""


class BucketTakenError(InputError):
    """The S3 bucket name belongs to another AWS account."""


class AwsQuotaError(ClusterousError):
    """An account quota (a Service Quotas limit) stops the work."""


class AwsError(ClusterousError):
    """Any other failure reported by AWS."""


@dataclass(frozen=True)
class CallSite:
    """What clusterous was doing, so a message can name it."""

    action: str  # "ec2:ImportKeyPair"
    aws_profile: str | None = None
    region: str | None = None
    resource: str | None = None  # a bucket name, a key pair name


@contextlib.contextmanager
def aws_errors(
    action: str,
    *,
    aws_profile: str | None = None,
    region: str | None = None,
    resource: str | None = None,
) -> Iterator[None]:
    """Run boto3 code, raising a translated ClusterousError if botocore complains."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as problem:
        site = CallSite(action, aws_profile, region, resource)
        raise translate(problem, site) from problem


def translate(problem: Exception, site: CallSite) -> ClusterousError:
    """The ClusterousError that tells a person what ``problem`` means and how to fix it."""
    from botocore import exceptions as bx

    if isinstance(problem, bx.ClientError):
        return _translate_client_error(problem, site)
    if isinstance(problem, bx.NoCredentialsError):
        return _no_credentials()
    if isinstance(problem, bx.ProfileNotFound):
        return _profile_not_found(site.aws_profile or str(problem))
    if isinstance(
        problem, bx.TokenRetrievalError | bx.SSOTokenLoadError | bx.UnauthorizedSSOTokenError
    ):
        return _expired(site.aws_profile, str(problem))
    if isinstance(problem, bx.EndpointConnectionError):
        return _unreachable(site, str(problem))
    return AwsError(f"{site.action} failed", str(problem))


def error_code(problem: BaseException) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else): the one reader."""
    return str(_error_of(problem).get("Code", ""))


def error_message(problem: BaseException) -> str:
    return str(_error_of(problem).get("Message", ""))


def _error_of(problem: BaseException) -> dict[str, Any]:
    response = getattr(problem, "response", None)
    error = response.get("Error", {}) if isinstance(response, dict) else {}
    return error if isinstance(error, dict) else {}


def _translate_client_error(problem: Exception, site: CallSite) -> ClusterousError:
    code = error_code(problem)
    message = error_message(problem) or str(problem)
    if code in EXPIRED_CODES:
        return _expired(site.aws_profile, message)
    if code in DENIED_CODES:
        return AwsPermissionError(action_from_message(message) or site.action, message or None)
    if code in BAD_KEY_CODES:
        return _bad_keys(message)
    if code == "BucketAlreadyExists":
        return _bucket_taken(site.resource)
    if code in NETWORK_QUOTAS:
        return _network_quota(code, site.region, message)
    return AwsError(f"{site.action} failed", f"{code}: {message}" if code else message)


def action_from_message(message: str) -> str | None:
    """``... is not authorized to perform: ec2:ImportKeyPair on ...`` -> ``ec2:ImportKeyPair``."""
    found = ACTION_IN_MESSAGE.search(message)
    return found.group(1) if found else None


def _no_credentials() -> AwsCredentialsError:
    return AwsCredentialsError(
        "no AWS credentials found",
        "no AWS profile, access keys or environment credentials are configured",
        "run 'clusterous setup --aws-profile NAME' with a profile from ~/.aws/config, "
        "or 'aws sso login' if you use AWS IAM Identity Center",
    )


def _expired(aws_profile: str | None, detail: str) -> AwsCredentialsError:
    login = f"aws sso login --profile {aws_profile}" if aws_profile else "aws sso login"
    return AwsCredentialsError(
        "your AWS credentials have expired",
        detail,
        f"run '{login}', or create fresh access keys and run 'clusterous setup' again",
    )


def _bad_keys(detail: str) -> AwsCredentialsError:
    return AwsCredentialsError(
        "AWS does not accept these credentials",
        f"the access key id or secret access key is wrong or was deleted ({detail})",
        "check the keys in the IAM console and run 'clusterous setup' again, "
        "or use 'clusterous setup --aws-profile NAME'",
    )


def _profile_not_found(aws_profile: str) -> AwsCredentialsError:
    return AwsCredentialsError(
        f"AWS profile {aws_profile!r} not found",
        "it is not in ~/.aws/config or ~/.aws/credentials",
        f"create it with 'aws configure sso --profile {aws_profile}' "
        f"(or 'aws configure --profile {aws_profile}'), or choose another --aws-profile",
    )


def _bucket_taken(bucket: str | None) -> BucketTakenError:
    name = repr(bucket) if bucket else "this name"
    return BucketTakenError(
        f"the S3 bucket name {name} is taken by another AWS account",
        "bucket names are global across all of AWS",
        "choose another name with --bucket",
    )


def _network_quota(code: str, region: str | None, detail: str) -> AwsQuotaError:
    """Each cluster has its own VPC and internet gateway; the default quota is 5 a region."""
    things, quota = NETWORK_QUOTAS[code]
    where = region or "this region"
    return AwsQuotaError(
        f"your AWS account has reached its limit of {things} in {where}",
        f"each cluster has its own VPC and internet gateway ({detail})",
        "destroy clusters you no longer use ('clusterous ls-clusters', then "
        "'clusterous destroy NAME'), delete unused VPCs in the VPC console "
        f"(https://console.aws.amazon.com/vpc/home?region={where}#vpcs:), or ask for a "
        f"higher quota: Service Quotas console, Amazon Virtual Private Cloud (Amazon VPC), "
        f"'{quota}'",
    )


def _unreachable(site: CallSite, detail: str) -> ClusterousError:
    where = f" in region {site.region!r}" if site.region else ""
    return AwsError(
        f"cannot reach AWS{where} for {site.action}",
        detail,
        "check your network connection and that the region name is right",
    )


def unknown_region(region: str, known: Iterable[str]) -> AwsRegionError:
    """'unknown region 'us-est-1'; did you mean us-east-1?'."""
    close = difflib.get_close_matches(region, sorted(known), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else None
    return AwsRegionError(
        f"unknown region {region!r}" + (f"; {hint}" if hint else ""),
        fix="pass a region such as --region us-east-1 (see 'aws ec2 describe-regions')",
    )
