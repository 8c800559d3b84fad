"""Kept shared volumes: list them, delete one (ls-volumes, rm-volume)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clusterous.errors import InputError
from clusterous.home import Home
from clusterous.operations.handle import choose_profile

if TYPE_CHECKING:
    from clusterous.aws.ec2 import Ec2
    from clusterous.providers.aws.volumes import SharedVolume


def _aws_ec2(home: Home, profile_override: str | None) -> Ec2:
    profile = choose_profile(home, profile_override, None)
    if not profile.is_aws:
        raise InputError(
            f"profile {profile.name!r} is not an AWS profile",
            "shared volumes are kept and listed on AWS only",
            "pick an AWS profile with --profile NAME",
        )
    from clusterous.providers.aws.provider import AwsProvider

    return AwsProvider("volumes", home, profile).ec2


def list_volumes(home: Home, profile_override: str | None) -> list[SharedVolume]:
    """The shared volumes clusterous made in the AWS profile's region (ls-volumes)."""
    from clusterous.providers.aws.volumes import list_shared_volumes

    return list_shared_volumes(_aws_ec2(home, profile_override))


def remove_volume(home: Home, profile_override: str | None, volume_id: str) -> SharedVolume:
    """Delete one kept shared volume (rm-volume)."""
    from clusterous.providers.aws.volumes import remove_shared_volume

    return remove_shared_volume(_aws_ec2(home, profile_override), volume_id)
