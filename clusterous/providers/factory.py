"""Pick and build the provider a configuration profile names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError
from clusterous.home import Home
from clusterous.providers.base import Provider

if TYPE_CHECKING:
    from clusterous.config import Profile


def make_provider(profile: Profile, cluster: str, home: Home) -> Provider:
    if profile.provider == "local":
        from clusterous.providers.local.provider import LocalProvider

        return LocalProvider(
            cluster,
            home,
            base_image=profile.base_image or "debian:bookworm-slim",
            node_type=profile.default_instance_type,
        )
    raise ClusterousError(
        f"profile {profile.name!r} uses the {profile.provider} provider, "
        "which cannot create clusters in this version yet",
        "clusters on AWS EC2 arrive in the next release",
        "use the local provider meanwhile: 'clusterous --profile local create'",
    )
