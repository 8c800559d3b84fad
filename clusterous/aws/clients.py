"""boto3 clients for a provider, made from the profile's one AwsSession; the one way to call them.

The session (credentials, region) comes from ``clusterous.aws.session``; this
module chooses how the provider's clients retry: botocore's ``standard`` mode
with more attempts than the setup wizard needs, because creating a large
cluster makes bursts of calls that AWS may throttle. Clients belong to one
provider object and die with it: none is shared across profiles.

``Clients.call`` is the one place a provider's API call is made: inside
``aws_errors`` (callers see ClusterousErrors only), with the error codes that
mean "already gone" answered as empty, and the ones that mean "not caught up
yet" waited out with the injected ``sleep``/``clock`` (tests never wait; a
cancelled command's waits end at once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from clusterous import cancel
from clusterous.aws.errors import aws_errors, error_code
from clusterous.aws.session import AwsSession

MAX_ATTEMPTS = 10
SETTLE_SECONDS = 60.0  # a resource made a moment ago is visible to every call within this
LONGEST_PAUSE = 15.0


def provider_retry_config(
    attempts: int = MAX_ATTEMPTS, timeouts: tuple[float, float] | None = None
) -> Any:
    """botocore's standard retries; ``timeouts`` (connect, read) bound each try when given."""
    from botocore.config import Config

    bounded = {"connect_timeout": timeouts[0], "read_timeout": timeouts[1]} if timeouts else {}
    return Config(retries={"mode": "standard", "max_attempts": attempts}, **bounded)


def service_of(action: str) -> str:
    """``ec2:CreateVpc`` -> ``ec2``: the client an action belongs to."""
    return action.split(":", 1)[0]


class Clients:
    """The clients of one AwsSession, each made on first use, and the calls made with them."""

    def __init__(
        self,
        session: AwsSession,
        sleep: Callable[[float], None] = cancel.sleep,
        clock: Callable[[], float] = time.monotonic,
        attempts: int = MAX_ATTEMPTS,
        timeouts: tuple[float, float] | None = None,
    ) -> None:
        self.session = session
        self.sleep = sleep
        self.clock = clock
        self.attempts = attempts
        self.timeouts = timeouts  # (connect, read) seconds per try; None: botocore's
        self._made: dict[str, Any] = {}

    def in_region(
        self, region: str, attempts: int, timeouts: tuple[float, float] | None
    ) -> Clients:
        """Clients of the same credentials in ``region``, with their own retries and timeouts."""
        return Clients(self.session.in_region(region), self.sleep, self.clock, attempts, timeouts)

    @property
    def region(self) -> str:
        return self.session.region

    def get(self, service: str, region: str | None = None, attempts: int | None = None) -> Any:
        """The client of ``service``; ``attempts=1`` for calls that retry by themselves."""
        where = region or self.session.region
        tries = attempts or self.attempts
        key = f"{service}@{where}/{tries}"
        with self.session.lock:
            if key not in self._made:
                config = provider_retry_config(tries, self.timeouts)
                with aws_errors(f"{service}:connect", region=where):
                    self._made[key] = self.session.boto.client(
                        service, region_name=where, config=config
                    )
            return self._made[key]

    def call(
        self,
        action: str,
        method: str,
        ignore: Iterable[str] = (),
        wait_out: Iterable[str] = (),
        patience: float = SETTLE_SECONDS,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One API call (``action`` names service and action); codes in ``ignore`` answer {}.

        Error codes in ``wait_out`` are retried with growing pauses for up to
        ``patience`` seconds: what a just-made or just-ended resource answers
        until AWS has caught up with itself.
        """
        from botocore.exceptions import ClientError

        ignored, awaited = set(ignore), set(wait_out)
        deadline = self.clock() + patience
        pause = 1.0
        with aws_errors(action, region=self.region):
            while True:
                try:
                    client = self.get(service_of(action))
                    answer: dict[str, Any] = getattr(client, method)(**kwargs)
                    return answer
                except ClientError as problem:
                    code = error_code(problem)
                    if code in ignored:
                        return {}
                    if code not in awaited or self.clock() + pause > deadline:
                        raise
                self.sleep(pause)
                pause = min(2 * pause, LONGEST_PAUSE)

    def pages(
        self, action: str, method: str, key: str, ignore: Iterable[str] = (), **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Every item under ``key`` of every page of a paginated call.

        An error whose code is in ``ignore`` (a bucket already gone) means no items.
        """
        from botocore.exceptions import ClientError

        found: list[dict[str, Any]] = []
        with aws_errors(action, region=self.region):
            paginator = self.get(service_of(action)).get_paginator(method)
            try:
                for page in paginator.paginate(**kwargs):
                    found += page.get(key, [])
            except ClientError as problem:
                if error_code(problem) not in set(ignore):
                    raise
                return []
        return found
