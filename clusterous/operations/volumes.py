"""Kept shared volumes: list them, delete one (ls-volumes, rm-volume), on every provider."""

from __future__ import annotations

from clusterous.errors import InputError
from clusterous.home import Home
from clusterous.operations.handle import choose_profile, in_region
from clusterous.providers.base import KeptVolume, KeptVolumes
from clusterous.providers.factory import make_provider


def _kept_volumes(
    home: Home, profile_override: str | None, region: str | None = None
) -> KeptVolumes:
    profile = choose_profile(home, profile_override, None)
    if region is not None:
        profile = in_region(profile, region)
    provider = make_provider(profile, "volumes", home)
    if provider.kept_volumes is None:
        raise InputError(
            f"the {provider.name} provider of profile {profile.name!r} keeps no shared volumes",
            None,
            "pick another profile with --profile NAME",
        )
    return provider.kept_volumes


def list_volumes(home: Home, profile_override: str | None) -> list[KeptVolume]:
    """The shared volumes clusterous made with the profile's provider (ls-volumes)."""
    return _kept_volumes(home, profile_override).find()


def remove_volume(
    home: Home, profile_override: str | None, volume_id: str, region: str | None = None
) -> KeptVolume:
    """Delete one kept shared volume, or a root disk left without its instance (rm-volume);
    in ``region`` when one is asked for (AWS)."""
    return _kept_volumes(home, profile_override, region).remove(volume_id)
