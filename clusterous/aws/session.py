"""One boto3 session per profile, built on demand and passed down explicitly.

There is no module-level session or client: each AwsSession belongs to one
set of credentials and one region, and its clients die with it, so two
profiles can never share a client. Every client retries with botocore's
``standard`` mode. boto3 is imported only when a session is actually built.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from clusterous.aws.errors import aws_errors, unknown_region

if TYPE_CHECKING:
    from clusterous.config import Profile

FALLBACK_REGION = "us-east-1"
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class AwsCredentials:
    """Where the keys come from: an AWS CLI profile (recommended), explicit keys, or
    neither (the default chain: environment variables, instance role)."""

    aws_profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None

    @classmethod
    def of(cls, profile: Profile) -> AwsCredentials:
        return cls(profile.aws_profile, profile.access_key_id, profile.secret_access_key)

    def describe(self) -> str:
        if self.aws_profile:
            return f"AWS profile {self.aws_profile!r}"
        if self.access_key_id:
            return "access keys"
        return "the default AWS credential chain"


@dataclass
class AwsSession:
    """A boto3 session bound to one region, with clients made on first use."""

    boto: Any  # boto3.session.Session
    region: str
    credentials: AwsCredentials
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    # boto3 sessions are not thread-safe: clients (which are) are made under this lock
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def in_region(self, region: str) -> AwsSession:
        """The same credentials in another region (an account-wide scan), sharing the lock."""
        return AwsSession(self.boto, region, self.credentials, lock=self.lock)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            with aws_errors(f"{service}:connect", **self._site()):
                self._clients[service] = self.boto.client(
                    service, region_name=self.region, config=retry_config()
                )
        return self._clients[service]

    def _site(self) -> dict[str, str | None]:
        return {"aws_profile": self.credentials.aws_profile, "region": self.region}


def retry_config() -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS})


def open_session(credentials: AwsCredentials, region: str | None) -> AwsSession:
    """Build the session for ``credentials`` in ``region`` (checked against AWS's list)."""
    boto = _boto_session(credentials)
    chosen = region or boto.region_name or FALLBACK_REGION
    check_region(chosen, ec2_regions(boto))
    return AwsSession(boto=boto, region=chosen, credentials=credentials)


def session_for(profile: Profile) -> AwsSession:
    """The session of an aws profile, for every command that works on AWS."""
    return open_session(AwsCredentials.of(profile), profile.region)


def default_region(credentials: AwsCredentials) -> str:
    """The region the AWS profile (or AWS_DEFAULT_REGION) names, else us-east-1."""
    return str(_boto_session(credentials).region_name or FALLBACK_REGION)


def known_aws_profiles() -> list[str]:
    """Profile names from ~/.aws/config and ~/.aws/credentials, for the wizard's prompt."""
    import boto3

    return sorted(boto3.session.Session().available_profiles)


def ec2_regions(boto: Any) -> list[str]:
    """Every region with EC2 in every partition botocore knows (no network call)."""
    return sorted(
        {
            region
            for partition in boto.get_available_partitions()
            for region in boto.get_available_regions("ec2", partition_name=partition)
        }
    )


def check_region(region: str, known: list[str]) -> str:
    if region not in known:
        raise unknown_region(region, known)
    return region


def _boto_session(credentials: AwsCredentials) -> Any:
    import boto3

    with aws_errors("open an AWS session", aws_profile=credentials.aws_profile):
        return boto3.session.Session(
            profile_name=credentials.aws_profile,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
        )
