"""An existing cluster, opened: its ledger, access and provider, chosen by profile.

Every use case that acts on a cluster starts from ``open_cluster``; the
profile rules (the one asked for, else the one the cluster was made with, of
the right provider) live here once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from clusterous.errors import ClusterousError, InputError
from clusterous.home import Home
from clusterous.manager.access import ClusterAccess
from clusterous.manager.current import resolve_cluster_name
from clusterous.manager.lease import LeaseKeeper
from clusterous.manager.ledger import Ledger
from clusterous.manager.lock import Warn, unheard
from clusterous.providers.base import Provider
from clusterous.providers.factory import make_provider
from clusterous.records import PAUSED_STATUSES, ClusterState

if TYPE_CHECKING:
    from clusterous.config import Profile


@dataclass(frozen=True)
class ClusterHandle:
    """Everything needed to act on one existing cluster."""

    name: str
    home: Home
    ledger: Ledger
    access: ClusterAccess
    provider: Provider

    def state(self) -> ClusterState:
        return self.ledger.load()


def choose_profile(home: Home, override: str | None, provider: str | None) -> Profile:
    """The configuration profile to use; ``--provider`` picks one of that provider."""
    from clusterous.config import load_config

    config = load_config(home)
    profile = config.get(override) if override else config.current()
    if provider is None or provider == profile.provider:
        return profile
    matching = [p for p in config.profiles.values() if p.provider == provider]
    if not matching:
        raise InputError(
            f"no configuration profile uses the {provider} provider",
            None,
            "run 'clusterous setup' to configure AWS" if provider == "aws" else None,
        )
    return matching[0]


def in_region(profile: Profile, region: str) -> Profile:
    """The profile with another region: only AWS profiles have regions."""
    if not profile.is_aws:
        raise InputError(
            f"--region is for AWS profiles, and profile {profile.name!r} uses the "
            f"{profile.provider} provider",
            None,
            "leave --region out, or pick an AWS profile with --profile NAME",
        )
    return replace(profile, region=region)


def cluster_profile(home: Home, state: ClusterState, profile_override: str | None) -> Profile:
    """The profile a cluster is worked on with: the one asked for, else the one it was made
    with, else the current one; and always one of the cluster's provider."""
    from clusterous.config import load_config

    config = load_config(home)
    wanted = profile_override or state.profile
    profile = config.get(wanted) if wanted in config.profiles else config.current()
    if profile.provider != state.provider:
        profile = choose_profile(home, None, state.provider)
    return profile


def open_cluster(
    home: Home,
    name: str | None,
    profile_override: str | None,
    warn: Warn = unheard,
    renew: bool = True,
    allow_stopped: bool = False,
) -> ClusterHandle:
    """An existing cluster known to this machine, with the provider it was made with.

    With ``renew``, the first connection to the controller renews the cluster's
    lease (``manager/lease.py``) and ``warn`` hears whether it was nearly over.
    A stopped cluster is refused, with the command that starts it, unless
    ``allow_stopped`` (status, stop, start, destroy).
    """
    name = resolve_cluster_name(home, name)
    ledger = Ledger(home, name)
    state = ledger.load()
    if state.status in PAUSED_STATUSES and not allow_stopped:
        raise ClusterousError(
            f"cluster {name!r} is stopped",
            None if state.status == "stopped" else "its stop did not finish",
            f"run 'clusterous start {name}'",
        )
    provider = make_provider(cluster_profile(home, state, profile_override), name, home)
    provider.cluster_id = state.cluster_id
    keeper = LeaseKeeper(ledger, warn) if renew else None
    return ClusterHandle(name, home, ledger, ClusterAccess.of(home, name, keeper), provider)
