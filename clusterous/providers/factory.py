"""Pick and build the provider a configuration profile names."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.providers.base import AccountScanner, Provider

if TYPE_CHECKING:
    from clusterous.config import Profile


AMI_PARAMETER_VARIABLE = "CLUSTEROUS_AWS_AMI_PARAMETER"


def make_provider(profile: Profile, cluster: str, home: Home) -> Provider:
    if profile.provider == "local":
        from clusterous.providers.local.provider import LocalProvider

        return LocalProvider(
            cluster,
            home,
            base_image=profile.base_image or "debian:bookworm-slim",
            node_type=profile.default_instance_type,
        )
    if profile.provider == "aws":
        from clusterous.aws.ec2 import DEBIAN_AMI_PARAMETER
        from clusterous.providers.aws.provider import AwsProvider

        # An SSM parameter naming another image ("{arch}" = amd64 | arm64), e.g. a vetted copy.
        parameter = os.environ.get(AMI_PARAMETER_VARIABLE) or DEBIAN_AMI_PARAMETER
        return AwsProvider(cluster, home, profile, image_parameter=parameter)
    raise ClusterousError(
        f"profile {profile.name!r} names an unknown provider {profile.provider!r}"
    )


def make_account_scanner(profile: Profile, home: Home) -> AccountScanner | None:
    """The account-wide scan of a profile's provider; None when it has no account (local)."""
    if profile.provider != "aws":
        return None
    from clusterous.providers.aws.forgotten import AwsAccountScanner

    return AwsAccountScanner(profile, home)
