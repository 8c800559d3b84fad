"""boto3 clients for the provider, made from the profile's one AwsSession.

The session (credentials, region) comes from ``clusterous.aws.session``; this
module only chooses how the provider's clients retry: botocore's ``standard``
mode with more attempts than the setup wizard needs, because creating a large
cluster makes bursts of calls that AWS may throttle. Clients belong to one
provider object and die with it: none is shared across profiles.
"""

from __future__ import annotations

from typing import Any

from clusterous.aws.errors import aws_errors
from clusterous.aws.session import AwsSession

MAX_ATTEMPTS = 10


def provider_retry_config(attempts: int = MAX_ATTEMPTS) -> Any:
    from botocore.config import Config

    return Config(retries={"mode": "standard", "max_attempts": attempts})


class Clients:
    """The clients of one AwsSession, each made on first use."""

    def __init__(self, session: AwsSession) -> None:
        self.session = session
        self._made: dict[str, Any] = {}

    @property
    def region(self) -> str:
        return self.session.region

    def get(self, service: str, region: str | None = None, attempts: int = MAX_ATTEMPTS) -> Any:
        """The client of ``service``; ``attempts=1`` for calls that retry by themselves."""
        where = region or self.session.region
        key = f"{service}@{where}/{attempts}"
        if key not in self._made:
            with aws_errors(f"{service}:connect", region=where):
                self._made[key] = self.session.boto.client(
                    service, region_name=where, config=provider_retry_config(attempts)
                )
        return self._made[key]
